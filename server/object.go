package server

import (
	"bytes"
	"cmp"
	"slices"

	"github.com/vmihailenco/msgpack/v5"
	"tep.dev/tep/p11"
)

// object is a PKCS#11 object: a token object (id > 0, kept in the store)
// or a session object (owned by one session of one client).
type object struct {
	handle  uint64
	id      int64 // store row, token objects only
	slot    uint64
	client  uint64 // owner of a session object
	session uint64 // 0 for token objects
	attrs   map[uint64][]byte
	key     *keyRef // private keys: the key in the TPM
}

func (o *object) bool(t uint64) bool {
	v := o.attrs[t]
	return len(v) == 1 && v[0] != 0
}

func (o *object) ulong(t uint64) uint64 {
	v, _ := p11.AsUlong(o.attrs[t])
	return v
}

// encodeAttrs is the stored form of a token object's attributes.
func encodeAttrs(attrs map[uint64][]byte) ([]byte, error) {
	list := make([]p11.Attribute, 0, len(attrs))
	for t, v := range attrs {
		list = append(list, p11.Attribute{Type: t, Value: v})
	}
	slices.SortFunc(list, func(a, b p11.Attribute) int { return cmp.Compare(a.Type, b.Type) })
	return msgpack.Marshal(list)
}

func decodeAttrs(b []byte) (map[uint64][]byte, error) {
	var list []p11.Attribute
	if err := msgpack.Unmarshal(b, &list); err != nil {
		return nil, err
	}
	m := make(map[uint64][]byte, len(list))
	for _, a := range list {
		m[a.Type] = a.Value
	}
	return m, nil
}

// matches reports whether o has every attribute of tmpl with its value.
func (o *object) matches(tmpl []p11.Attribute) bool {
	for _, a := range tmpl {
		v, ok := o.attrs[a.Type]
		if !ok || !bytes.Equal(v, a.Value) {
			return false
		}
	}
	return true
}

// size is C_GetObjectSize's answer: the bytes its attributes take.
func (o *object) size() uint64 {
	var n uint64
	for _, v := range o.attrs {
		n += uint64(len(v)) + 16
	}
	return n
}
