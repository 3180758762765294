package wire

import "encoding/binary"

// CRC-16 with eRPC's parameters: polynomial 0x1021, initial value 0xEF4A,
// most significant bit first, no reflection, no final xor.
const (
	crcPoly = 0x1021
	crcInit = 0xEF4A
)

// crcTable[k][b] is the CRC contribution of byte b followed by k zero
// bytes; eight tables let CRC16 consume eight bytes per step ("slicing by
// eight"), which keeps the checksum far below the cost of a pty write.
var crcTable = makeCRCTable()

func makeCRCTable() *[8][256]uint16 {
	t := new([8][256]uint16)
	for b := 0; b < 256; b++ {
		c := uint16(b) << 8
		for i := 0; i < 8; i++ {
			if c&0x8000 != 0 {
				c = c<<1 ^ crcPoly
			} else {
				c <<= 1
			}
		}
		t[0][b] = c
	}
	for k := 1; k < 8; k++ {
		for b := 0; b < 256; b++ {
			c := t[k-1][b]
			t[k][b] = c<<8 ^ t[0][c>>8]
		}
	}
	return t
}

// CRC16 returns the eRPC CRC-16 of p.
func CRC16(p []byte) uint16 { return crcUpdate(crcInit, p) }

func crcUpdate(crc uint16, p []byte) uint16 {
	if n := len(p) &^ 15; n >= foldMin && haveFold {
		crc = crcFold(crc, p[:n])
		p = p[n:]
	}
	return crcSliced(crc, p)
}

// foldMin is the shortest input worth carry-less folding.
const foldMin = 64

// Folding constants: the accumulator's high and low 64-bit halves are
// multiplied by x^192 and x^128 modulo P to move them 128 bits on.
var foldK = [2]uint64{uint64(xPow(128)), uint64(xPow(192))}

// crcFold computes the CRC of p (a multiple of 16 bytes) by folding it
// 16 bytes at a time with carry-less multiplication into a 128-bit
// accumulator A ≡ init·x^(8|p|-16) + p (mod P); the CRC is A·x^16 mod P,
// which the table computes from A's 16 bytes.
func crcFold(init uint16, p []byte) uint16 {
	lo, hi := fold(p, uint64(init)<<48, &foldK)
	var a [16]byte
	binary.BigEndian.PutUint64(a[:8], hi)
	binary.BigEndian.PutUint64(a[8:], lo)
	return crcSliced(0, a[:])
}

// gfMul returns a·b mod P over GF(2).
func gfMul(a, b uint16) uint16 {
	var r uint16
	for i := 15; i >= 0; i-- {
		if r&0x8000 != 0 {
			r = r<<1 ^ crcPoly
		} else {
			r <<= 1
		}
		if b>>uint(i)&1 != 0 {
			r ^= a
		}
	}
	return r
}

// xPow returns x^n mod P.
func xPow(n int) uint16 {
	r, base := uint16(1), uint16(2) // x^0, x^1
	for ; n > 0; n >>= 1 {
		if n&1 != 0 {
			r = gfMul(r, base)
		}
		base = gfMul(base, base)
	}
	return r
}

// crcSliced consumes eight bytes a step, then single bytes.
func crcSliced(crc uint16, p []byte) uint16 {
	t := crcTable
	for len(p) >= 8 {
		crc = t[7][p[0]^byte(crc>>8)] ^ t[6][p[1]^byte(crc)] ^
			t[5][p[2]] ^ t[4][p[3]] ^ t[3][p[4]] ^ t[2][p[5]] ^
			t[1][p[6]] ^ t[0][p[7]]
		p = p[8:]
	}
	for _, b := range p {
		crc = crc<<8 ^ t[0][byte(crc>>8)^b]
	}
	return crc
}
