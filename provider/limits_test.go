package main

import (
	"math"
	"testing"

	"tep.dev/tep/p11"
	"tep.dev/tep/wire"
)

// TestLimitsFitAMessage encodes the largest requests the edge lets
// through, with every fixed field at its widest, and checks that each
// fits in one message: a request within the limits must never fail on
// the wire.
func TestLimitsFitAMessage(t *testing.T) {
	const wide = math.MaxUint64
	bytes := func(n int) []byte { return make([]byte, n) }
	// template is n entries whose values take what is left of the request
	// after fixed bytes.
	template := func(n, fixed int) []p11.Attribute {
		tmpl := make([]p11.Attribute, n)
		per := (maxRequest - fixed - n*attrOverhead) / n
		for i := range tmpl {
			tmpl[i] = p11.Attribute{Type: wide, Value: bytes(per)}
		}
		return tmpl
	}
	empty := make([]p11.Attribute, maxAttributes)
	for i := range empty {
		empty[i].Type = wide
	}
	mech := p11.Mechanism{Type: wide, Param: bytes(4096)}
	for _, tt := range []struct {
		name string
		fn   uint16
		req  any
	}{
		{"C_Sign", p11.FnSign, &p11.OutReq{Session: wide, Data: bytes(maxRequest), OutCap: math.MaxInt64}},
		{"C_Verify", p11.FnVerify, &p11.VerifyReq{Session: wide, Data: bytes(maxRequest - 512), Signature: bytes(512)}},
		{"C_CreateObject, large values", p11.FnCreateObject, &p11.TemplateReq{Session: wide, Object: wide, Template: template(maxAttributes, 0)}},
		{"C_CreateObject, one value", p11.FnCreateObject, &p11.TemplateReq{Session: wide, Object: wide, Template: template(1, 0)}},
		{"C_GenerateKeyPair", p11.FnGenerateKeyPair, &p11.KeyPairReq{Session: wide, Mechanism: mech,
			Public: template(maxAttributes/2, 4096+maxRequest/2), Private: template(maxAttributes/2, 4096+maxRequest/2)}},
		{"C_UnwrapKey, empty values", p11.FnUnwrapKey, &p11.WrapReq{Session: wide, Mechanism: mech, Wrapping: wide, Key: wide,
			Data: bytes(maxRequest - 4096 - maxAttributes*attrOverhead), Template: empty, OutCap: math.MaxInt64}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body, err := p11.Marshal(tt.req)
			if err != nil {
				t.Fatal(err)
			}
			m := wire.Message{Version: wire.Version, Type: wire.Invocation, Func: tt.fn, Client: wide, Seq: math.MaxUint32, Body: body}
			if n := len(m.Append(nil)); n > wire.DefaultMaxMessage {
				t.Errorf("the request takes %d bytes, more than a message's %d", n, wire.DefaultMaxMessage)
			}
		})
	}
}
