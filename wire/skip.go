package wire

import (
	"encoding/binary"
	"errors"
)

// MaxDepth bounds the nesting of arrays and maps in a message body, so
// that no decoder above this package recurses without limit.
const MaxDepth = 32

var errBadValue = errors.New("bad msgpack value")

// skipValue returns the length of the single msgpack value at the start of
// b. It walks the value without recursion or allocation, and rejects
// nesting deeper than MaxDepth and lengths that run past b.
func skipValue(b []byte) (int, error) {
	var pending [MaxDepth + 1]uint64 // values still to read at each level
	depth := 0
	pending[0] = 1
	i := 0
	for {
		for pending[depth] == 0 {
			if depth == 0 {
				return i, nil
			}
			depth--
		}
		pending[depth]--
		if i >= len(b) {
			return 0, errBadValue
		}
		c := b[i]
		size, count, err := valueShape(c, b[i+1:])
		if err != nil {
			return 0, err
		}
		if uint64(len(b)-i) < size {
			return 0, errBadValue
		}
		i += int(size)
		if count > 0 {
			// Every element takes at least one byte: refuse counts
			// that cannot fit before walking them.
			if count > uint64(len(b)-i) || depth == MaxDepth {
				return 0, errBadValue
			}
			depth++
			pending[depth] = count
		}
	}
}

// valueShape returns the number of bytes the value starting with code c
// occupies before its elements, and how many elements follow (2 per map
// entry). rest is what follows the code byte.
func valueShape(c byte, rest []byte) (size, count uint64, err error) {
	be := func(n int) (uint64, bool) {
		if len(rest) < n {
			return 0, false
		}
		switch n {
		case 1:
			return uint64(rest[0]), true
		case 2:
			return uint64(binary.BigEndian.Uint16(rest)), true
		default:
			return uint64(binary.BigEndian.Uint32(rest)), true
		}
	}
	switch {
	case c <= 0x7f, c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3:
		return 1, 0, nil
	case c <= 0x8f:
		return 1, 2 * uint64(c&0x0f), nil
	case c <= 0x9f:
		return 1, uint64(c & 0x0f), nil
	case c <= 0xbf:
		return 1 + uint64(c&0x1f), 0, nil
	}
	// Codes with a length field: width of the field, extra fixed bytes,
	// and whether the length counts elements (and per element, values).
	var width, extra int
	perElem := uint64(0)
	switch c {
	case 0xc4, 0xd9:
		width = 1
	case 0xc5, 0xda:
		width = 2
	case 0xc6, 0xdb:
		width = 4
	case 0xc7:
		width, extra = 1, 1
	case 0xc8:
		width, extra = 2, 1
	case 0xc9:
		width, extra = 4, 1
	case 0xdc:
		width, perElem = 2, 1
	case 0xdd:
		width, perElem = 4, 1
	case 0xde:
		width, perElem = 2, 2
	case 0xdf:
		width, perElem = 4, 2
	case 0xca:
		return 5, 0, nil
	case 0xcb:
		return 9, 0, nil
	case 0xcc, 0xd0:
		return 2, 0, nil
	case 0xcd, 0xd1:
		return 3, 0, nil
	case 0xce, 0xd2:
		return 5, 0, nil
	case 0xcf, 0xd3:
		return 9, 0, nil
	case 0xd4:
		return 3, 0, nil
	case 0xd5:
		return 4, 0, nil
	case 0xd6:
		return 6, 0, nil
	case 0xd7:
		return 10, 0, nil
	case 0xd8:
		return 18, 0, nil
	default: // 0xc1 is never used
		return 0, 0, errBadValue
	}
	n, ok := be(width)
	if !ok {
		return 0, 0, errBadValue
	}
	if perElem > 0 {
		return 1 + uint64(width), n * perElem, nil
	}
	return 1 + uint64(width+extra) + n, 0, nil
}
