package server

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"

	"tep.dev/tep/p11"
)

// TestRSAEncryption: the public key object encrypts (in software), the
// TPM decrypts, and Go's crypto agrees with both.
func TestRSAEncryption(t *testing.T) {
	f := newFixture(t, "sim")
	c := f.dial(t)
	s, _ := c.OpenSession(1, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	c.Login(s, p11.CKU_USER, []byte(userPIN))
	pub, priv, err := c.GenerateKeyPair(s, p11.Mechanism{Type: p11.CKM_RSA_PKCS_KEY_PAIR_GEN},
		[]p11.Attribute{attr(p11.CKA_MODULUS_BITS, p11.Ulong(2048))}, nil)
	if err != nil {
		t.Fatal(err)
	}
	goPub := publicOf(t, c, s, pub).(*rsa.PublicKey)
	oaep := p11.Mechanism{Type: p11.CKM_RSA_PKCS_OAEP, Param: p11.OAEPParams{Hash: p11.CKM_SHA256, MGF: p11.CKG_MGF1_SHA256, Source: p11.CKZ_DATA_SPECIFIED}.Encode()}
	msg := []byte("a secret for the TPM")
	for _, m := range []p11.Mechanism{{Type: p11.CKM_RSA_PKCS}, oaep} {
		c.CryptInit(false, s, m, pub)
		ct, _, err := c.Crypt(false, 0, s, msg, 256)
		if err != nil {
			t.Fatalf("%s encrypt: %v", p11.MechName(m.Type), err)
		}
		c.CryptInit(true, s, m, priv)
		pt, _, err := c.Crypt(true, 0, s, ct, 256)
		if err != nil || !bytes.Equal(pt, msg) {
			t.Fatalf("%s decrypt in the TPM: %q, %v", p11.MechName(m.Type), pt, err)
		}
	}
	goCT, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, goPub, msg, nil)
	c.CryptInit(true, s, oaep, priv)
	if pt, _, err := c.Crypt(true, 0, s, goCT, 256); err != nil || !bytes.Equal(pt, msg) {
		t.Errorf("Go's OAEP ciphertext does not decrypt in the TPM: %v", err)
	}
	// Labels without a terminating zero and MGF1 on another hash: the TPM
	// decrypts raw and tepd checks the padding.
	labelled := p11.Mechanism{Type: p11.CKM_RSA_PKCS_OAEP, Param: p11.OAEPParams{Hash: p11.CKM_SHA256, MGF: p11.CKG_MGF1_SHA1, Source: p11.CKZ_DATA_SPECIFIED, Label: []byte("abc")}.Encode()}
	labelCT, _ := rsa.EncryptOAEPWithOptions(rand.Reader, goPub, msg, &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA1, Label: []byte("abc")})
	c.CryptInit(true, s, labelled, priv)
	if pt, _, err := c.Crypt(true, 0, s, labelCT, 256); err != nil || !bytes.Equal(pt, msg) {
		t.Errorf("OAEP with label \"abc\" and MGF1-SHA1: %q, %v", pt, err)
	}
	c.CryptInit(true, s, oaep, priv)
	_, _, err = c.Crypt(true, 0, s, labelCT, 256)
	wantRV(t, "a labelled ciphertext without its label", err, p11.CKR_ENCRYPTED_DATA_INVALID)
	goCT[5] ^= 1
	c.CryptInit(true, s, oaep, priv)
	_, _, err = c.Crypt(true, 0, s, goCT, 256)
	wantRV(t, "a tampered ciphertext", err, p11.CKR_ENCRYPTED_DATA_INVALID)
	c.CryptInit(true, s, oaep, priv)
	_, _, err = c.Crypt(true, 0, s, goCT[:100], 256)
	wantRV(t, "a short ciphertext", err, p11.CKR_ENCRYPTED_DATA_LEN_RANGE)
	c.CryptInit(false, s, p11.Mechanism{Type: p11.CKM_RSA_PKCS}, pub)
	_, _, err = c.Crypt(false, 0, s, make([]byte, 250), 256)
	wantRV(t, "too much data for one block", err, p11.CKR_DATA_LEN_RANGE)
	c.CryptInit(false, s, p11.Mechanism{Type: p11.CKM_RSA_PKCS}, pub)
	_, _, err = c.Crypt(false, 1, s, msg, 256)
	wantRV(t, "RSA in parts", err, p11.CKR_MECHANISM_INVALID)
	wantRV(t, "decrypting with the public key", c.CryptInit(true, s, oaep, pub), p11.CKR_KEY_HANDLE_INVALID)
}
