package server

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"

	"tep.dev/tep/p11"
)

// TestUnwrapIntoTheTPM: an AES key wrapped by Go with the token's RSA
// public key unwraps into the TPM and encrypts as crypto/aes does; TPM
// keys refuse to be wrapped out.
func TestUnwrapIntoTheTPM(t *testing.T) {
	f := newFixture(t, "sim")
	c := f.dial(t)
	s, _ := c.OpenSession(1, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	c.Login(s, p11.CKU_USER, []byte(userPIN))
	pub, priv, err := c.GenerateKeyPair(s, p11.Mechanism{Type: p11.CKM_RSA_PKCS_KEY_PAIR_GEN},
		[]p11.Attribute{attr(p11.CKA_MODULUS_BITS, p11.Ulong(2048))},
		[]p11.Attribute{attr(p11.CKA_UNWRAP, p11.Bool(true)), attr(p11.CKA_SIGN, p11.Bool(false))})
	if err != nil {
		t.Fatal(err)
	}
	aesKey := bytes.Repeat([]byte{0x42}, 32)
	wrapped, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, publicOf(t, c, s, pub).(*rsa.PublicKey), aesKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	oaep := p11.Mechanism{Type: p11.CKM_RSA_PKCS_OAEP, Param: p11.OAEPParams{Hash: p11.CKM_SHA256, MGF: p11.CKG_MGF1_SHA256, Source: p11.CKZ_DATA_SPECIFIED}.Encode()}
	tmpl := []p11.Attribute{attr(p11.CKA_CLASS, p11.Ulong(p11.CKO_SECRET_KEY)), attr(p11.CKA_KEY_TYPE, p11.Ulong(p11.CKK_AES))}
	k, err := c.UnwrapKey(s, oaep, priv, wrapped, tmpl)
	if err != nil {
		t.Fatalf("UnwrapKey: %v", err)
	}
	iv, data := make([]byte, 16), make([]byte, 64)
	c.CryptInit(false, s, p11.Mechanism{Type: p11.CKM_AES_CBC, Param: iv}, k)
	got, _, err := c.Crypt(false, 0, s, data, 64)
	b, _ := aes.NewCipher(aesKey)
	want := make([]byte, 64)
	cipher.NewCBCEncrypter(b, iv).CryptBlocks(want, data)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("the unwrapped key does not encrypt as its value does: %v", err)
	}
	wrapped[3] ^= 1
	_, err = c.UnwrapKey(s, oaep, priv, wrapped, tmpl)
	wantRV(t, "a damaged wrapped key", err, p11.CKR_WRAPPED_KEY_INVALID)
	_, _, err = c.WrapKey(s, oaep, pub, k, 512)
	wantRV(t, "wrapping a TPM key", err, p11.CKR_KEY_UNEXTRACTABLE)
	_, signer, _ := c.GenerateKeyPair(s, p11.Mechanism{Type: p11.CKM_RSA_PKCS_KEY_PAIR_GEN}, []p11.Attribute{attr(p11.CKA_MODULUS_BITS, p11.Ulong(2048))}, nil)
	_, err = c.UnwrapKey(s, oaep, signer, wrapped, tmpl)
	wantRV(t, "unwrapping with a key without CKA_UNWRAP", err, p11.CKR_KEY_FUNCTION_NOT_PERMITTED)
}
