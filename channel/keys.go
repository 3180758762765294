package channel

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/flynn/noise"
)

// Overhead is what sealing adds to a body: the msgpack bin32 header, the
// function id and the AEAD tag.
const Overhead = 5 + 2 + tagSize

const tagSize = 16

// window is how far ahead of the last accepted sequence number a new one
// may be: half the 32-bit space the wire carries, as ESP's extended
// sequence numbers have it, so the high half is never ambiguous.
const window = 1 << 31

// Keys are one side's keys for one client: one for the messages it sends
// and one for those it receives. Not safe for concurrent use.
type Keys struct {
	send, recv cipher.AEAD
	last       uint64 // highest nonce OpenNext accepted
	nonce      [12]byte
}

// newKeys takes the two cipher states a finished handshake split into.
// The keys are used through crypto/cipher with nonces built here, in the
// form Noise's AESGCM functions define (32 zero bits, then the 64-bit
// nonce big-endian; Noise revision 34, 12.3), rather than through the
// noise package's Cipher, which allocates a nonce on every call.
func newKeys(send, recv *noise.CipherState) *Keys {
	return &Keys{send: gcmOf(send.UnsafeKey()), recv: gcmOf(recv.UnsafeKey())}
}

func gcmOf(k [32]byte) cipher.AEAD {
	b, err := aes.NewCipher(k[:])
	if err != nil {
		panic(err) // unreachable: a 32-byte key is always valid
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		panic(err) // unreachable: AES has a 16-byte block
	}
	return g
}

func (k *Keys) nonceOf(n uint64) []byte {
	binary.BigEndian.PutUint64(k.nonce[4:], n)
	return k.nonce[:]
}

// Seal appends to dst the sealed form of a call or result of function fn
// with body, under the sending key, nonce n and associated data ad (the
// wire header as sent). The result is one msgpack bin value holding the
// ciphertext of fn (2 bytes, big-endian) followed by body. dst must not
// overlap body.
func (k *Keys) Seal(dst, ad []byte, n uint64, fn uint16, body []byte) []byte {
	ctLen := 2 + len(body) + tagSize
	dst = appendBinHeader(dst, ctLen)
	start := len(dst)
	dst = binary.BigEndian.AppendUint16(dst, fn)
	dst = append(dst, body...)
	dst = slices.Grow(dst, tagSize)
	pt := dst[start:]
	out := k.send.Seal(pt[:0], k.nonceOf(n), pt, ad)
	return dst[:start+len(out)]
}

// Open opens a body that Seal made with nonce n and associated data ad,
// under the receiving key, and returns its function id and body. It
// decrypts in place: sealed is overwritten, and body aliases it.
func (k *Keys) Open(ad []byte, n uint64, sealed []byte) (fn uint16, body []byte, err error) {
	ct, ok := Bin(sealed)
	if !ok || len(ct) < 2+tagSize {
		return 0, nil, fmt.Errorf("%w: not a sealed body", ErrOpen)
	}
	pt, err := k.recv.Open(ct[:0], k.nonceOf(n), ct, ad)
	if err != nil {
		return 0, nil, ErrOpen
	}
	return binary.BigEndian.Uint16(pt), pt[2:], nil
}

// OpenNext opens a body that carries the wire sequence number seq, the
// low 32 bits of its nonce: the nonce is rebuilt from the last one
// accepted, and must lie ahead of it, within the window. Only a body that
// opens moves the last accepted nonce. It returns the nonce, to seal the
// answer with.
func (k *Keys) OpenNext(ad []byte, seq uint32, sealed []byte) (n uint64, fn uint16, body []byte, err error) {
	n, ok := Extend(k.last, seq)
	if !ok {
		return 0, 0, nil, ErrReplay
	}
	fn, body, err = k.Open(ad, n, sealed)
	if err != nil {
		return 0, 0, nil, err
	}
	k.last = n
	return n, fn, body, nil
}

// Extend rebuilds a 64-bit sequence number from its low 32 bits seq and
// the last one accepted: the value with those low bits that lies ahead of
// last by at most 2^31. ok is false when there is none (seq is old, a
// replay, or too far ahead).
func Extend(last uint64, seq uint32) (n uint64, ok bool) {
	n = last&^0xffffffff | uint64(seq)
	if n <= last {
		n += 1 << 32 // wraps to below last at the very top: refused below
	}
	if n <= last || n-last > window {
		return 0, false
	}
	return n, true
}

// appendBinHeader appends the msgpack header of a bin value of n bytes in
// its shortest form, as wire.Message.Decode's canonical check wants.
func appendBinHeader(dst []byte, n int) []byte {
	switch {
	case n <= 0xff:
		return append(dst, 0xc4, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(dst, 0xc5), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(dst, 0xc6), uint32(n))
}

// Bin returns the contents of b if b is exactly one msgpack bin value.
func Bin(b []byte) ([]byte, bool) {
	if len(b) < 2 {
		return nil, false
	}
	var n, h int
	switch b[0] {
	case 0xc4:
		n, h = int(b[1]), 2
	case 0xc5:
		if len(b) < 3 {
			return nil, false
		}
		n, h = int(binary.BigEndian.Uint16(b[1:])), 3
	case 0xc6:
		if len(b) < 5 {
			return nil, false
		}
		n, h = int(binary.BigEndian.Uint32(b[1:])), 5
	default:
		return nil, false
	}
	if len(b)-h != n {
		return nil, false
	}
	return b[h:], true
}

// AppendBin appends data as one msgpack bin value: the form handshake
// messages take in a wire body.
func AppendBin(dst, data []byte) []byte {
	return append(appendBinHeader(dst, len(data)), data...)
}
