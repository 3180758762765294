package server

import (
	"bytes"
	"testing"

	"tep.dev/tep/p11"
)

// TestHMACInTheTPM: a generic secret made by the TPM computes HMACs with
// each hash, single-part and in parts alike, and verifies them.
func TestHMACInTheTPM(t *testing.T) {
	f := newFixture(t, "sim")
	c := f.dial(t)
	s, _ := c.OpenSession(1, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	c.Login(s, p11.CKU_USER, []byte(userPIN))
	k, err := c.GenerateKey(s, p11.Mechanism{Type: p11.CKM_GENERIC_SECRET_KEY_GEN}, []p11.Attribute{attr(p11.CKA_VALUE_LEN, p11.Ulong(32))})
	if err != nil {
		t.Fatal(err)
	}
	msg := bytes.Repeat([]byte("an HMAC over data longer than one TPM buffer "), 40)
	for _, tt := range []struct {
		mech uint64
		size int
	}{{p11.CKM_SHA256_HMAC, 32}, {p11.CKM_SHA384_HMAC, 48}} {
		m := p11.Mechanism{Type: tt.mech}
		c.SignInit(s, m, k)
		mac, _, err := c.Sign(s, msg, 64)
		if err != nil || len(mac) != tt.size {
			t.Fatalf("%s: %x, %v", p11.MechName(tt.mech), mac, err)
		}
		c.SignInit(s, m, k)
		c.SignUpdate(s, msg[:100])
		c.SignUpdate(s, msg[100:])
		parts, _, err := c.SignFinal(s, 64)
		if err != nil || !bytes.Equal(parts, mac) {
			t.Errorf("%s: multi-part HMAC differs: %v", p11.MechName(tt.mech), err)
		}
		c.VerifyInit(s, m, k)
		if err := c.Verify(s, msg, mac); err != nil {
			t.Errorf("%s: Verify of its own HMAC: %v", p11.MechName(tt.mech), err)
		}
		mac[0] ^= 1
		c.VerifyInit(s, m, k)
		wantRV(t, p11.MechName(tt.mech)+": a wrong HMAC", c.Verify(s, msg, mac), p11.CKR_SIGNATURE_INVALID)
	}
	c.SignInit(s, p11.Mechanism{Type: p11.CKM_SHA256_HMAC}, k)
	a, _, _ := c.Sign(s, []byte("x"), 64)
	c.SignInit(s, p11.Mechanism{Type: p11.CKM_SHA384_HMAC}, k)
	b, _, _ := c.Sign(s, []byte("x"), 64)
	if bytes.Equal(a, b[:32]) {
		t.Error("SHA-256 and SHA-384 HMACs agree: not two hashes")
	}
	aesKey, _ := c.GenerateKey(s, p11.Mechanism{Type: p11.CKM_AES_KEY_GEN}, []p11.Attribute{attr(p11.CKA_VALUE_LEN, p11.Ulong(16))})
	wantRV(t, "HMAC with an AES key", c.SignInit(s, p11.Mechanism{Type: p11.CKM_SHA256_HMAC}, aesKey), p11.CKR_KEY_TYPE_INCONSISTENT)
	_, err = c.GenerateKey(s, p11.Mechanism{Type: p11.CKM_GENERIC_SECRET_KEY_GEN}, []p11.Attribute{attr(p11.CKA_VALUE_LEN, p11.Ulong(4))})
	wantRV(t, "a 4-byte HMAC key", err, p11.CKR_KEY_SIZE_RANGE)
}
