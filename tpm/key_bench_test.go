package tpm

import (
	"crypto"
	"crypto/elliptic"
	"testing"
)

// BenchmarkKeyOps measures key operations with the key already loaded (the
// cache keeps the one key in use), on each backend. Every operation still
// starts and flushes its salted session.
func BenchmarkKeyOps(b *testing.B) {
	for _, be := range []struct {
		name string
		spec func(b *testing.B) string
	}{
		{"sim", func(*testing.B) string { return "sim" }},
		{"swtpm", func(b *testing.B) string { return StartSWTPM(b) }},
	} {
		b.Run(be.name, func(b *testing.B) {
			tp := openTPM(b, target{be.spec(b), b.TempDir()})
			b.Run("RSA2048-PKCS1v15-sign", func(b *testing.B) {
				k, _ := createKey(b, tp, KeySpec{Kind: KindRSA, Bits: 2048, Sign: true})
				benchSign(b, tp, k)
			})
			b.Run("ECDSA-P256-sign", func(b *testing.B) {
				k, _ := createKey(b, tp, KeySpec{Kind: KindECC, Curve: elliptic.P256(), Sign: true})
				benchSign(b, tp, k)
			})
			b.Run("AES256-CBC-1MiB", func(b *testing.B) {
				k, _ := createKey(b, tp, KeySpec{Kind: KindAES, Bits: 256, Sign: true, Decrypt: true})
				data, iv := make([]byte, 1<<20), make([]byte, aesBlock)
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					if _, _, err := tp.SymCrypt(k, keyAuth, false, ModeCBC, iv, data); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("RSA2048-keygen", func(b *testing.B) {
				for b.Loop() {
					createKey(b, tp, KeySpec{Kind: KindRSA, Bits: 2048, Sign: true})
				}
			})
		})
	}
}

func benchSign(b *testing.B, tp *TPM, k KeyBlob) {
	d := digestOf(crypto.SHA256, "bench")
	if _, err := tp.Sign(k, keyAuth, d, crypto.SHA256); err != nil { // loads k
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := tp.Sign(k, keyAuth, d, crypto.SHA256); err != nil {
			b.Fatal(err)
		}
	}
}
