package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// Version is the protocol version this package speaks. Version 2 added the
// secure channel (FuncHandshake, FuncSealed): a version 1 peer gets the
// empty reply that tells it to give up, instead of waiting for answers it
// cannot read.
const Version = 2

// Type is a message type, numbered as eRPC numbers them.
type Type uint8

// Message types.
const (
	Invocation   Type = 0 // a call that expects a Reply
	Oneway       Type = 1 // a call with no reply
	Reply        Type = 2 // the answer to an Invocation
	Notification Type = 3 // unsolicited, from the server
)

func (t Type) String() string {
	switch t {
	case Invocation:
		return "invocation"
	case Oneway:
		return "oneway"
	case Reply:
		return "reply"
	case Notification:
		return "notification"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Message is one call or reply. On the wire it is the msgpack array
// [version, type, func, client, seq, body] with every integer in its
// shortest msgpack form and body exactly one msgpack value.
type Message struct {
	Version uint8
	Type    Type
	Func    uint16 // function id, chosen by the protocol above
	Client  uint64 // the calling client; replies echo it
	Seq     uint32 // the client's call number; replies echo it
	Body    []byte // one msgpack value: arguments or results
}

// Errors from Decode.
var (
	ErrMalformed    = errors.New("wire: malformed message")
	ErrNonCanonical = errors.New("wire: message not in canonical form")
)

// nilBody is the msgpack nil that stands for an empty body.
var nilBody = []byte{0xc0}

// Append appends the encoding of m to dst.
func (m *Message) Append(dst []byte) []byte {
	dst = m.appendHeader(dst)
	if len(m.Body) == 0 {
		return append(dst, nilBody...)
	}
	return append(dst, m.Body...)
}

// AppendHeader appends the encoding of everything but the body: the bytes
// a sealed body takes as associated data.
func (m *Message) AppendHeader(dst []byte) []byte { return m.appendHeader(dst) }

// appendHeader appends everything but the body. The envelope is written
// here rather than through a msgpack encoder: it is five unsigned integers
// in their shortest form, and a hot path (every call crosses it twice).
func (m *Message) appendHeader(dst []byte) []byte {
	dst = append(dst, 0x96) // fixarray of 6
	dst = appendUint(dst, uint64(m.Version))
	dst = appendUint(dst, uint64(m.Type))
	dst = appendUint(dst, uint64(m.Func))
	dst = appendUint(dst, m.Client)
	return appendUint(dst, uint64(m.Seq))
}

// appendUint appends v in msgpack's shortest unsigned form.
func appendUint(dst []byte, v uint64) []byte {
	switch {
	case v <= 0x7f:
		return append(dst, byte(v))
	case v <= 0xff:
		return append(dst, 0xcc, byte(v))
	case v <= 0xffff:
		return binary.BigEndian.AppendUint16(append(dst, 0xcd), uint16(v))
	case v <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(dst, 0xce), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(dst, 0xcf), v)
}

// readUint reads an unsigned integer in any msgpack unsigned form; Decode
// rejects the non-shortest ones afterwards.
func readUint(b []byte) (v uint64, n int, ok bool) {
	if len(b) == 0 {
		return 0, 0, false
	}
	switch c := b[0]; {
	case c <= 0x7f:
		return uint64(c), 1, true
	case c == 0xcc && len(b) >= 2:
		return uint64(b[1]), 2, true
	case c == 0xcd && len(b) >= 3:
		return uint64(binary.BigEndian.Uint16(b[1:])), 3, true
	case c == 0xce && len(b) >= 5:
		return uint64(binary.BigEndian.Uint32(b[1:])), 5, true
	case c == 0xcf && len(b) >= 9:
		return binary.BigEndian.Uint64(b[1:]), 9, true
	}
	return 0, 0, false
}

// Decode parses b into m. m.Body aliases b. Decode accepts only the
// canonical encoding, so Append of a decoded message returns b exactly,
// and a body nested deeper than MaxDepth is refused.
func (m *Message) Decode(b []byte) error {
	if len(b) == 0 || b[0] != 0x96 {
		return fmt.Errorf("%w: want a 6-element array", ErrMalformed)
	}
	var f [5]uint64
	limits := [5]uint64{0xff, uint64(Notification), 0xffff, 1<<64 - 1, 0xffffffff}
	start := 1
	for i := range f {
		v, n, ok := readUint(b[start:])
		if !ok || v > limits[i] {
			return fmt.Errorf("%w: header field %d", ErrMalformed, i)
		}
		f[i] = v
		start += n
	}
	if n, err := skipValue(b[start:]); err != nil || start+n != len(b) {
		return fmt.Errorf("%w: body is not one msgpack value of depth <= %d", ErrMalformed, MaxDepth)
	}
	d := Message{
		Version: uint8(f[0]), Type: Type(f[1]), Func: uint16(f[2]),
		Client: f[3], Seq: uint32(f[4]), Body: b[start:],
	}
	var hdr [32]byte
	if !bytes.Equal(d.appendHeader(hdr[:0]), b[:start]) {
		return ErrNonCanonical
	}
	*m = d
	return nil
}

// FuncPing is the one function every server answers the same way: the
// reply carries the request's body back. Clients use it to check that a
// server is there; tests and benchmarks use it to measure the link.
const FuncPing uint16 = 0

// Link-level function ids, clear of the PKCS#11 ones (package p11). After
// a client's handshake every call and reply travels as FuncSealed, the
// real function id sealed inside, so a reader of the line does not learn
// which function was called.
const (
	// FuncHandshake carries a Noise handshake message, one msgpack bin
	// each way (package channel).
	FuncHandshake uint16 = 0xfff1
	// FuncSealed carries a sealed call or reply: one msgpack bin, the
	// ciphertext of the function id and body.
	FuncSealed uint16 = 0xfff2
	// FuncNoChannel is a server's plaintext answer to a sealed call from
	// a client id it holds no channel for (it restarted, or the lease
	// ran out). Anyone can forge it: a client fails the call, and never
	// takes it as a reason to run a new handshake.
	FuncNoChannel uint16 = 0xfff3
)
