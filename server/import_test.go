package server

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"math/big"
	"testing"

	"tep.dev/tep/p11"
)

// TestImportedKeysMatchGo imports keys made by Go's crypto into the TPM
// (C_CreateObject) and checks that they compute what Go computes.
func TestImportedKeysMatchGo(t *testing.T) {
	f := newFixture(t, "sim")
	c := f.dial(t)
	s, _ := c.OpenSession(1, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err := c.Login(s, p11.CKU_USER, []byte(userPIN)); err != nil {
		t.Fatal(err)
	}
	cls := func(v uint64) p11.Attribute { return attr(p11.CKA_CLASS, p11.Ulong(v)) }
	kt := func(v uint64) p11.Attribute { return attr(p11.CKA_KEY_TYPE, p11.Ulong(v)) }

	// AES: the TPM's CBC equals crypto/aes for the same key.
	for _, size := range []int{16, 32} {
		key := bytes.Repeat([]byte{byte(size)}, size)
		h, err := c.CreateObject(s, []p11.Attribute{cls(p11.CKO_SECRET_KEY), kt(p11.CKK_AES), attr(p11.CKA_VALUE, key)})
		if err != nil {
			t.Fatalf("importing AES-%d: %v", 8*size, err)
		}
		v, _ := c.AttributeValues(s, h, []uint64{p11.CKA_VALUE, p11.CKA_NEVER_EXTRACTABLE, p11.CKA_LOCAL})
		if v[0].Status != p11.AttrSensitive || string(v[1].Value) != "\x00" || string(v[2].Value) != "\x00" {
			t.Errorf("imported key attributes = %+v: want a sensitive value, not never-extractable, not local", v)
		}
		iv := make([]byte, 16)
		data := make([]byte, 4096+32)
		for i := range data {
			data[i] = byte(i)
		}
		c.CryptInit(false, s, p11.Mechanism{Type: p11.CKM_AES_CBC, Param: iv}, h)
		got, _, err := c.Crypt(false, 0, s, data, int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := aes.NewCipher(key)
		want := make([]byte, len(data))
		cipher.NewCBCEncrypter(b, iv).CryptBlocks(want, data)
		if !bytes.Equal(got, want) {
			t.Errorf("AES-%d CBC in the TPM differs from crypto/aes", 8*size)
		}
	}

	// RSA: PKCS#1 v1.5 signatures are deterministic, so the TPM's equal Go's.
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	rh, err := c.CreateObject(s, []p11.Attribute{
		cls(p11.CKO_PRIVATE_KEY), kt(p11.CKK_RSA),
		attr(p11.CKA_MODULUS, rk.N.Bytes()), attr(p11.CKA_PUBLIC_EXPONENT, big.NewInt(int64(rk.E)).Bytes()),
		attr(p11.CKA_PRIVATE_EXPONENT, rk.D.Bytes()), attr(p11.CKA_PRIME_1, rk.Primes[0].Bytes()),
		attr(p11.CKA_PRIME_2, rk.Primes[1].Bytes()),
	})
	if err != nil {
		t.Fatalf("importing RSA: %v", err)
	}
	msg := []byte("the same bytes, two ways")
	sum := sha256.Sum256(msg)
	c.SignInit(s, p11.Mechanism{Type: p11.CKM_SHA256_RSA_PKCS}, rh)
	got, _, err := c.Sign(s, msg, 256)
	want, _ := rsa.SignPKCS1v15(nil, rk, crypto.SHA256, sum[:])
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("RSA signature of the imported key differs from Go's: %v", err)
	}

	// EC: the TPM's signature verifies with the Go key's public half.
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	d, err := ek.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	eh, err := c.CreateObject(s, []p11.Attribute{
		cls(p11.CKO_PRIVATE_KEY), kt(p11.CKK_EC), attr(p11.CKA_EC_PARAMS, oidP256), attr(p11.CKA_VALUE, d),
	})
	if err != nil {
		t.Fatalf("importing EC: %v", err)
	}
	c.SignInit(s, p11.Mechanism{Type: p11.CKM_ECDSA}, eh)
	sig, _, err := c.Sign(s, sum[:], 64)
	if err != nil || !ecdsa.Verify(&ek.PublicKey, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		t.Errorf("ECDSA signature of the imported key does not verify: %v", err)
	}

	_, err = c.CreateObject(s, []p11.Attribute{cls(p11.CKO_SECRET_KEY), kt(p11.CKK_AES), attr(p11.CKA_VALUE, make([]byte, 20))})
	wantRV(t, "a 20-byte AES key", err, p11.CKR_ATTRIBUTE_VALUE_INVALID)
	_, err = c.CreateObject(s, []p11.Attribute{cls(p11.CKO_SECRET_KEY), kt(p11.CKK_AES)})
	wantRV(t, "an AES key without a value", err, p11.CKR_TEMPLATE_INCOMPLETE)
	bad := rk.Primes[0].Bytes()
	bad[len(bad)-1] ^= 2
	_, err = c.CreateObject(s, []p11.Attribute{
		cls(p11.CKO_PRIVATE_KEY), kt(p11.CKK_RSA), attr(p11.CKA_MODULUS, rk.N.Bytes()),
		attr(p11.CKA_PUBLIC_EXPONENT, []byte{1, 0, 1}), attr(p11.CKA_PRIVATE_EXPONENT, rk.D.Bytes()),
		attr(p11.CKA_PRIME_1, bad), attr(p11.CKA_PRIME_2, rk.Primes[1].Bytes()),
	})
	wantRV(t, "an inconsistent RSA key", err, p11.CKR_ATTRIBUTE_VALUE_INVALID)
}
