package tpm

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"math/big"
	"testing"
)

// rawDecrypt is RSADP with a Go key: what the TPM returns for
// TPM_ALG_NULL, left-padded to the modulus size.
func rawDecrypt(priv *rsa.PrivateKey, ct []byte) []byte {
	m := new(big.Int).Exp(new(big.Int).SetBytes(ct), priv.D, priv.N)
	return m.FillBytes(make([]byte, priv.Size()))
}

func TestDecodeOAEP(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []rsa.OAEPOptions{
		{Hash: crypto.SHA256},
		{Hash: crypto.SHA256, Label: []byte("abc")},
		{Hash: crypto.SHA1, MGFHash: crypto.SHA256, Label: []byte("label")},
		{Hash: crypto.SHA512, MGFHash: crypto.SHA1},
	} {
		for _, msg := range [][]byte{{}, []byte("x"), bytes.Repeat([]byte{1}, 2048/8-2*o.Hash.Size()-2)} {
			ct, err := rsa.EncryptOAEPWithOptions(rand.Reader, &priv.PublicKey, msg, &o)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeOAEP(&o, rawDecrypt(priv, ct))
			if err != nil || !bytes.Equal(got, msg) {
				t.Errorf("decodeOAEP(%v/%v, label %q) = %x, %v, want %x", o.Hash, o.MGFHash, o.Label, got, err, msg)
			}
		}
	}

	o := rsa.OAEPOptions{Hash: crypto.SHA256, Label: []byte("abc")}
	ct, _ := rsa.EncryptOAEPWithOptions(rand.Reader, &priv.PublicKey, []byte("secret"), &o)
	em := rawDecrypt(priv, ct)
	// Rebuild em's data block to break one rule at a time.
	unmaskSeed := func(db []byte) []byte {
		s := bytes.Clone(em[1 : 1+32])
		mgf1XOR(s, crypto.SHA256.New(), db)
		return s
	}
	seed := unmaskSeed(em[33:])
	db := bytes.Clone(em[33:])
	mgf1XOR(db, crypto.SHA256.New(), seed)
	reencode := func(db []byte) []byte {
		masked := bytes.Clone(db)
		mgf1XOR(masked, crypto.SHA256.New(), seed)
		s := bytes.Clone(seed)
		mgf1XOR(s, crypto.SHA256.New(), masked)
		return append(append([]byte{0}, s...), masked...)
	}
	if got, err := decodeOAEP(&o, reencode(db)); err != nil || string(got) != "secret" {
		t.Fatalf("re-encoded block = %q, %v", got, err)
	}
	one := bytes.IndexByte(db[32:], 1) + 32
	bad := map[string][]byte{}
	b := reencode(db)
	b[0] = 1
	bad["first byte not zero"] = b
	d := bytes.Clone(db)
	d[5] ^= 0x80
	bad["label hash differs"] = reencode(d)
	d = bytes.Clone(db)
	d[one] = 0
	for i := one + 1; i < len(d); i++ {
		d[i] = 0
	}
	bad["no 0x01 separator"] = reencode(d)
	d = bytes.Clone(db)
	d[one-1] = 2
	bad["non-zero padding before 0x01"] = reencode(d)
	bad["block too short"] = make([]byte, 2*32+1)
	for name, em := range bad {
		if got, err := decodeOAEP(&o, em); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: decodeOAEP = %x, %v, want ErrDecrypt", name, got, err)
		}
	}
	if _, err := decodeOAEP(&rsa.OAEPOptions{Hash: crypto.SHA256, Label: []byte("abd")}, em); !errors.Is(err, ErrDecrypt) {
		t.Errorf("decodeOAEP(another label) = %v, want ErrDecrypt", err)
	}
}

func TestTPMOAEP(t *testing.T) {
	for _, c := range []struct {
		o    rsa.OAEPOptions
		want bool
	}{
		{rsa.OAEPOptions{Hash: crypto.SHA256}, true},
		{rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA256, Label: []byte("l\x00")}, true},
		{rsa.OAEPOptions{Hash: crypto.SHA256, Label: []byte("l")}, false},
		{rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA1}, false},
		{rsa.OAEPOptions{Hash: crypto.SHA256, Label: append(bytes.Repeat([]byte{'a'}, maxLabel), 0)}, false},
	} {
		if got := tpmOAEP(&c.o); got != c.want {
			t.Errorf("tpmOAEP(%v/%v, %q) = %v, want %v", c.o.Hash, c.o.MGFHash, c.o.Label, got, c.want)
		}
	}
}
