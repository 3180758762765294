package p11

import (
	"bytes"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

var encPool = sync.Pool{New: func() any {
	b := new(bytes.Buffer)
	e := msgpack.NewEncoder(b)
	e.UseCompactInts(true)         // small numbers in one byte, not nine
	e.UseArrayEncodedStructs(true) // fields by position, not by name
	return &encoder{buf: b, enc: e}
}}

type encoder struct {
	buf *bytes.Buffer
	enc *msgpack.Encoder
}

// Marshal encodes v, one of this package's shapes, as a message body.
func Marshal(v any) ([]byte, error) {
	e := encPool.Get().(*encoder)
	defer encPool.Put(e)
	e.buf.Reset()
	if err := e.enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.Clone(e.buf.Bytes()), nil
}

// Unmarshal decodes a message body into v. Byte slices in v are copies,
// so v stays valid after the body's buffer is reused.
func Unmarshal(b []byte, v any) error { return msgpack.Unmarshal(b, v) }
