package pcrpolicy

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"testing"
)

func TestParsePCRList(t *testing.T) {
	got, err := ParsePCRList("10, 0,7")
	if err != nil || len(got) != 3 || got[0] != 0 || got[1] != 7 || got[2] != 10 {
		t.Fatalf("ParsePCRList = %v, %v; want [0 7 10]", got, err)
	}
	for _, bad := range []string{"", "0,,7", "24", "-1", "7,7", "x"} {
		if _, err := ParsePCRList(bad); err == nil {
			t.Errorf("ParsePCRList(%q) = nil error", bad)
		}
	}
}

func TestParsePCRFileErrors(t *testing.T) {
	raw := bytes.Repeat([]byte{1}, 3*32)
	if v, err := ParsePCRFile(raw, SHA256, []int{0, 7, 10}); err != nil || len(v.Digests) != 3 {
		t.Fatalf("ParsePCRFile(raw) = %v, %v", v, err)
	}
	yaml := []byte("sha256:\n  0 : 0x" + hex32(1) + "\n  7 : 0x" + hex32(2) + "\n")
	cases := []struct {
		name string
		data []byte
		bank Bank
		pcrs []int
	}{
		{"short raw file", raw[:95], SHA256, []int{0, 7, 10}},
		{"raw file for the other bank", raw, SHA384, []int{0, 7, 10}},
		{"PCR missing from YAML", yaml, SHA256, []int{0, 7, 10}},
		{"bank missing from YAML", yaml, SHA384, []int{0, 7}},
		{"unknown bank", raw, "sha1", []int{0, 7, 10}},
		{"garbage", []byte("not: [a pcr file"), SHA256, []int{0}},
		{"bad hex", []byte("sha256:\n  0 : 0xzz\n"), SHA256, []int{0}},
		{"short digest", []byte("sha256:\n  0 : 0x0102\n"), SHA256, []int{0}},
	}
	for _, tc := range cases {
		if _, err := ParsePCRFile(tc.data, tc.bank, tc.pcrs); err == nil {
			t.Errorf("%s: ParsePCRFile = nil error", tc.name)
		}
	}
	if v, err := ParsePCRFile(yaml, SHA256, []int{7, 0}); err != nil || v.Digests[1][0] != 2 {
		t.Fatalf("ParsePCRFile(yaml) = %v, %v", v, err)
	}
}

func hex32(b byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 64)
	for i := 0; i < 64; i += 2 {
		out[i], out[i+1] = digits[b>>4], digits[b&15]
	}
	return string(out)
}

func TestKeysAndSignatures(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	approved := bytes.Repeat([]byte{7}, DigestSize)
	sig, err := Sign(k, nil, approved)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(&k.PublicKey, approved, sig); err != nil {
		t.Fatalf("Verify(own signature) = %v", err)
	}
	other := bytes.Repeat([]byte{8}, DigestSize)
	if err := Verify(&k.PublicKey, other, sig); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("Verify(other policy) = %v, want ErrBadSignature", err)
	}
	if _, err := TPMSignature(&k.PublicKey, []byte{0x30, 0}); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("TPMSignature(garbage) = %v, want ErrBadSignature", err)
	}
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if _, err := KeyName(&p224.PublicKey); !errors.Is(err, ErrKeyType) {
		t.Fatalf("KeyName(P-224) = %v, want ErrKeyType", err)
	}
	if _, err := Sign(p224, nil, approved); !errors.Is(err, ErrKeyType) {
		t.Fatalf("Sign(P-224) = %v, want ErrKeyType", err)
	}
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	if _, err := KeyPublic(&small.PublicKey); !errors.Is(err, ErrKeyType) {
		t.Fatalf("KeyPublic(RSA-1024) = %v, want ErrKeyType", err)
	}
	if _, err := KeyPublic("not a key"); !errors.Is(err, ErrKeyType) {
		t.Fatalf("KeyPublic(string) = %v, want ErrKeyType", err)
	}
	// Different epochs, values and keys give different policies.
	v := Values{Bank: SHA256, PCRs: []int{0}, Digests: [][]byte{make([]byte, 32)}}
	a1, _ := Approved(v, []byte{1}, 1)
	a2, _ := Approved(v, []byte{1}, 2)
	if bytes.Equal(a1, a2) {
		t.Fatal("epochs 1 and 2 give the same approved policy")
	}
	if _, err := Approved(Values{Bank: SHA256, PCRs: []int{0}}, nil, 1); err == nil {
		t.Fatal("Approved with no digests = nil error")
	}
}
