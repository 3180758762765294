package p11

import (
	"bytes"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// TestArrayEncoding checks that arguments travel as compact arrays, not
// maps with field names, and survive a round trip.
func TestArrayEncoding(t *testing.T) {
	in := OutReq{Session: 7, Data: []byte("abc"), OutCap: -1}
	b, err := Marshal(&in)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0x93, 0x07, 0xc4, 0x03, 'a', 'b', 'c', 0xff}
	if !bytes.Equal(b, want) {
		t.Errorf("Marshal(%+v) = % x, want % x", in, b, want)
	}
	var out OutReq
	if err := msgpack.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.Session != 7 || string(out.Data) != "abc" || out.OutCap != -1 {
		t.Errorf("round trip = %+v, want %+v", out, in)
	}
}

func TestFunctionIDs(t *testing.T) {
	// Spot checks against the position in the v2.40 function list.
	for _, tt := range []struct {
		name string
		got  uint16
		want uint16
	}{
		{"C_Initialize", FnInitialize, 1},
		{"C_GetFunctionList", FnGetFunctionList, 4},
		{"C_Login", FnLogin, 19},
		{"C_DigestInit", FnDigestInit, 38},
		{"C_GenerateRandom", FnGenerateRandom, 65},
		{"C_WaitForSlotEvent", FnWaitForSlotEvent, 68},
	} {
		if tt.got != tt.want {
			t.Errorf("%s id = %d, want %d", tt.name, tt.got, tt.want)
		}
	}
}

func TestRVString(t *testing.T) {
	if got := CKR_PIN_INCORRECT.String(); got != "CKR_PIN_INCORRECT" {
		t.Errorf("String() = %q", got)
	}
	if got := RV(0x12345).String(); got != "CKR_0x12345" {
		t.Errorf("String() = %q", got)
	}
}

func TestAttrKinds(t *testing.T) {
	for _, tt := range []struct {
		t    uint64
		want Kind
	}{
		{CKA_CLASS, KindUlong}, {CKA_TOKEN, KindBool}, {CKA_LABEL, KindBytes}, {CKA_VALUE, KindBytes},
		{CKA_MODULUS_BITS, KindUlong}, {CKA_SIGN, KindBool}, {CKA_START_DATE, KindDate},
		{CKA_WRAP_TEMPLATE, KindTemplate}, {CKA_ALLOWED_MECHANISMS, KindMechList},
		{CKA_VENDOR_DEFINED | 7, KindBytes},
	} {
		if got := AttrKind(tt.t); got != tt.want {
			t.Errorf("AttrKind(%s) = %d, want %d", AttrName(tt.t), got, tt.want)
		}
	}
	if v, err := AsUlong(Ulong(CKO_CERTIFICATE)); err != nil || v != CKO_CERTIFICATE {
		t.Errorf("AsUlong(Ulong(1)) = %d, %v", v, err)
	}
	if _, err := AsUlong([]byte{1, 2, 3, 4}); err == nil {
		t.Error("AsUlong of four bytes succeeded")
	}
	if b, err := AsBool(Bool(true)); err != nil || !b {
		t.Errorf("AsBool(Bool(true)) = %v, %v", b, err)
	}
	if got := MechName(CKM_SHA256_RSA_PKCS); got != "CKM_SHA256_RSA_PKCS" {
		t.Errorf("MechName = %q", got)
	}
}

// TestDocumentedExample keeps docs/wire.md's C_GenerateRandom example
// true.
func TestDocumentedExample(t *testing.T) {
	b, err := Marshal(&GenerateRandomReq{Session: 1, Len: 32})
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0x92, 0x01, 0x20}; !bytes.Equal(b, want) {
		t.Errorf("C_GenerateRandom arguments = % x, want % x", b, want)
	}
	r, err := Marshal(&DataResp{RV: CKR_OK, Data: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0x92, 0x00, 0xc4, 0x20}; !bytes.HasPrefix(r, want) || len(r) != 36 {
		t.Errorf("C_GenerateRandom result = % x, want % x + 32 bytes", r, want)
	}
	if FnGenerateRandom != 0x41 {
		t.Errorf("C_GenerateRandom id = %#x, want 0x41", FnGenerateRandom)
	}
}
