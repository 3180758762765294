package tpm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"slices"
	"testing"
)

func TestCreateKeySpecs(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *TPM, _ target) {
		good := []KeySpec{
			{Kind: KindRSA, Bits: 2048, Sign: true, Decrypt: true},
			{Kind: KindECC, Curve: elliptic.P256(), Sign: true, Decrypt: true},
			{Kind: KindECC, Curve: elliptic.P384(), Decrypt: true},
			{Kind: KindAES, Bits: 128, Decrypt: true},
			{Kind: KindHMAC, Hash: crypto.SHA512, Sign: true},
		}
		if slices.Contains(caps(t, tp).RSABits, 3072) {
			good = append(good, KeySpec{Kind: KindRSA, Bits: 3072, Sign: true})
		}
		for _, spec := range good {
			k, pub, err := tp.CreateKey(spec, keyAuth)
			if err != nil {
				t.Errorf("CreateKey(%v %d %v) = %v", spec.Kind, spec.Bits, spec.Curve, err)
				continue
			}
			if got, err := k.PublicKey(); err != nil || got != pub && !pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(got) {
				t.Errorf("CreateKey(%v): blob's PublicKey() = %v, %v, want the returned key", spec.Kind, got, err)
			}
			if spec.Kind == KindRSA && pub.(*rsa.PublicKey).N.BitLen() != spec.Bits {
				t.Errorf("CreateKey(RSA-%d) made a %d-bit key", spec.Bits, pub.(*rsa.PublicKey).N.BitLen())
			}
		}
		bad := []KeySpec{
			{Kind: KindRSA, Bits: 2048},
			{Kind: KindRSA, Bits: 2047, Sign: true},
			{Kind: KindECC, Curve: elliptic.P224(), Sign: true},
			{Kind: KindECC, Sign: true},
			{Kind: KindAES, Bits: 100, Decrypt: true},
			{Kind: KindHMAC, Hash: crypto.MD5, Sign: true},
			{Kind: KindHMAC, Hash: crypto.SHA256, Sign: true, Decrypt: true},
			{Kind: KeyKind(42), Sign: true},
		}
		for _, spec := range bad {
			if _, _, err := tp.CreateKey(spec, keyAuth); err == nil {
				t.Errorf("CreateKey(%+v) succeeded, want error", spec)
			}
		}
		if _, _, err := tp.CreateKey(good[1], make([]byte, MaxAuth+1)); err == nil {
			t.Error("CreateKey(auth too long) succeeded, want error")
		}
		assertClean(t, tp, 1)
	})
}

func TestImportKeyErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *TPM, _ target) {
		ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		ec224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
		rk, _ := rsa.GenerateKey(rand.Reader, 2048)
		tests := []struct {
			name string
			spec KeySpec
			priv any
		}{
			{"EC key, RSA spec", KeySpec{Kind: KindRSA, Sign: true}, ec},
			{"EC key, other curve", KeySpec{Kind: KindECC, Curve: elliptic.P384(), Sign: true}, ec},
			{"P-224", KeySpec{Kind: KindECC, Sign: true}, ec224},
			{"RSA key, wrong size", KeySpec{Kind: KindRSA, Bits: 3072, Sign: true}, rk},
			{"AES key of 20 bytes", KeySpec{Kind: KindAES, Decrypt: true}, make([]byte, 20)},
			{"AES key, wrong size", KeySpec{Kind: KindAES, Bits: 256, Decrypt: true}, make([]byte, 16)},
			{"bytes for ECC", KeySpec{Kind: KindECC, Sign: true}, make([]byte, 32)},
			{"no usage", KeySpec{Kind: KindECC}, ec},
			{"public key", KeySpec{Kind: KindECC, Sign: true}, &ec.PublicKey},
		}
		for _, tc := range tests {
			if _, err := tp.ImportKey(tc.spec, tc.priv, keyAuth); err == nil {
				t.Errorf("%s: ImportKey() succeeded, want error", tc.name)
			}
		}
		if _, err := tp.ImportKey(KeySpec{Kind: KindECC, Sign: true}, ec, make([]byte, MaxAuth+1)); err == nil {
			t.Error("ImportKey(auth too long) succeeded, want error")
		}
	})
}
