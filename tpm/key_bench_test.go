package tpm

import (
	"crypto"
	"crypto/elliptic"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"tep.dev/tep/tpm/tpmtest"
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
		{"swtpm", func(b *testing.B) string { return tpmtest.StartSWTPM(b) }},
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

// BenchmarkBareSign is the TPM's own TPM2_Sign on a loaded key with a
// password authorization: no session to start, no HMAC, nothing but the
// command. The floor under Sign.
func BenchmarkBareSign(b *testing.B) {
	tp := openTPM(b, target{tpmtest.StartSWTPM(b), b.TempDir()})
	for _, c := range []struct {
		name string
		spec KeySpec
	}{
		{"RSA2048", KeySpec{Kind: KindRSA, Bits: 2048, Sign: true}},
		{"ECDSA-P256", KeySpec{Kind: KindECC, Curve: elliptic.P256(), Sign: true}},
	} {
		b.Run(c.name, func(b *testing.B) {
			k, _ := createKey(b, tp, c.spec)
			pk, _ := tp.parseKey(k)
			d := digestOf(crypto.SHA256, "bench")
			scheme, _ := sigScheme(pk.area.Type, d, crypto.SHA256)
			tp.do(func(l locked) error {
				h, err := l.loadKey(pk)
				if err != nil {
					b.Fatal(err)
				}
				for b.Loop() {
					_, err := tpm2.Sign{
						KeyHandle:  tpm2.AuthHandle{Handle: h.Handle, Name: h.Name, Auth: tpm2.PasswordAuth(keyAuth)},
						Digest:     tpm2.TPM2BDigest{Buffer: d},
						InScheme:   scheme,
						Validation: tpm2.TPMTTKHashCheck{Tag: tpm2.TPMSTHashCheck, Hierarchy: tpm2.TPMRHNull},
					}.Execute(l)
					if err != nil {
						b.Fatal(err)
					}
				}
				return nil
			})
		})
	}
}

// BenchmarkBareAES is TPM2_EncryptDecrypt2 on a loaded AES-256 key with a
// password authorization and no parameter encryption, in the TPM's largest
// pieces: the floor under SymCrypt.
func BenchmarkBareAES(b *testing.B) {
	tp := openTPM(b, target{tpmtest.StartSWTPM(b), b.TempDir()})
	k, _ := createKey(b, tp, KeySpec{Kind: KindAES, Bits: 256, Sign: true, Decrypt: true})
	pk, _ := tp.parseKey(k)
	data, iv := make([]byte, 1<<20), make([]byte, aesBlock)
	b.SetBytes(int64(len(data)))
	tp.do(func(l locked) error {
		h, err := l.loadKey(pk)
		if err != nil {
			b.Fatal(err)
		}
		piece := tp.maxBuffer / aesBlock * aesBlock
		for b.Loop() {
			for off := 0; off < len(data); off += piece {
				_, err := tpm2.EncryptDecrypt2{
					KeyHandle: tpm2.AuthHandle{Handle: h.Handle, Name: h.Name, Auth: tpm2.PasswordAuth(keyAuth)},
					Message:   tpm2.TPM2BMaxBuffer{Buffer: data[off:min(off+piece, len(data))]},
					Mode:      tpm2.TPMAlgCBC,
					IV:        tpm2.TPM2BIV{Buffer: iv},
				}.Execute(l)
				if err != nil {
					b.Fatal(err)
				}
			}
		}
		return nil
	})
}
