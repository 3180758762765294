package tpm

import (
	"bytes"
	"crypto"
	"crypto/elliptic"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"tep.dev/tep/tpm/tpmtest"
)

// FuzzParseSealed checks that parseSealed never panics and that what it
// accepts encodes back to the same bytes.
func FuzzParseSealed(f *testing.F) {
	pub := tpm2.Marshal(tpm2.New2B(sealedTemplate(false)))
	priv := tpm2.Marshal(tpm2.TPM2BPrivate{Buffer: []byte{1, 2, 3}})
	f.Add(pub, priv)
	f.Add([]byte{}, []byte{})
	f.Add([]byte{0, 2, 0}, []byte{0xff, 0xff})
	f.Fuzz(func(t *testing.T, public, private []byte) {
		p, q, err := parseSealed(Sealed{Public: public, Private: private})
		if err != nil {
			return
		}
		if !bytes.Equal(tpm2.Marshal(p), public) || !bytes.Equal(tpm2.Marshal(q), private) {
			t.Errorf("parseSealed(%x, %x) does not encode back", public, private)
		}
	})
}

// BenchmarkOpen measures Open and Close, which is dominated by creating
// the storage primary key.
func BenchmarkOpen(b *testing.B) {
	for _, be := range []struct {
		name string
		spec func(b *testing.B) string
	}{
		{"sim", func(*testing.B) string { return "sim" }},
		{"swtpm", func(b *testing.B) string { return tpmtest.StartSWTPM(b) }},
	} {
		b.Run(be.name, func(b *testing.B) {
			spec, dir := be.spec(b), b.TempDir()
			for b.Loop() {
				tp, err := Open(spec, dir)
				if err != nil {
					b.Fatal(err)
				}
				tp.Close()
			}
		})
	}
}

// BenchmarkSealUnseal measures one Seal and one Unseal.
func BenchmarkSealUnseal(b *testing.B) {
	tp, err := Open("sim", b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer tp.Close()
	for b.Loop() {
		s, err := tp.Seal([]byte("secret"), []byte("pin"))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tp.Unseal(s, []byte("pin")); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzParseKey checks that parseKey never panics and that what it accepts
// encodes back to the same bytes and names a usable key.
func FuzzParseKey(f *testing.F) {
	for _, spec := range []KeySpec{
		{Kind: KindRSA, Bits: 2048, Sign: true},
		{Kind: KindECC, Curve: elliptic.P256(), Decrypt: true},
		{Kind: KindAES, Bits: 128, Sign: true},
		{Kind: KindHMAC, Hash: crypto.SHA256, Sign: true},
	} {
		tmpl, err := keyTemplate(spec, true)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tpm2.Marshal(tpm2.New2B(tmpl)), []byte{0, 3, 1, 2, 3})
	}
	tdes, _ := createTemplate(KeySpec{Kind: KindTDES, Bits: 128, Decrypt: true})
	f.Add(tpm2.Marshal(tdes), []byte{0, 1, 0})
	f.Add(tpm2.Marshal(tpm2.New2B(sealedTemplate(false))), []byte{0, 0})
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, public, private []byte) {
		pk, err := parseKey(KeyBlob{Public: public, Private: private}, [32]byte{})
		if err != nil {
			return
		}
		if !bytes.Equal(tpm2.Marshal(pk.pub), public) || !bytes.Equal(tpm2.Marshal(pk.priv), private) {
			t.Errorf("parseKey(%x, %x) does not encode back", public, private)
		}
		if a := pk.area.ObjectAttributes; !a.SignEncrypt && !a.Decrypt {
			t.Errorf("parseKey accepted an object that neither signs nor decrypts")
		}
		KeyBlob{Public: public, Private: private}.PublicKey() // must not panic
	})
}

// FuzzParseSignature: whatever a TPM (or something posing as one) sends
// back from TPM2_Sign, the hand-written reader neither panics nor accepts
// what does not encode back to the same bytes.
func FuzzParseSignature(f *testing.F) {
	f.Add(tpm2.Marshal(tpm2.TPMTSignature{SigAlg: tpm2.TPMAlgECDSA, Signature: tpm2.NewTPMUSignature(tpm2.TPMAlgECDSA,
		&tpm2.TPMSSignatureECC{Hash: tpm2.TPMAlgSHA256, SignatureR: tpm2.TPM2BECCParameter{Buffer: []byte{1}}, SignatureS: tpm2.TPM2BECCParameter{Buffer: []byte{2}}})}))
	f.Add(tpm2.Marshal(tpm2.TPMTSignature{SigAlg: tpm2.TPMAlgRSASSA, Signature: tpm2.NewTPMUSignature(tpm2.TPMAlgRSASSA,
		&tpm2.TPMSSignatureRSA{Hash: tpm2.TPMAlgSHA256, Sig: tpm2.TPM2BPublicKeyRSA{Buffer: []byte{3, 4}}})}))
	f.Add([]byte{0, 0x18, 0, 0x0b, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		sig, err := parseSignature(b)
		if err != nil {
			return
		}
		if got := tpm2.Marshal(*sig); !bytes.Equal(got, b) {
			t.Errorf("parseSignature(%x) encodes back as %x", b, got)
		}
	})
}
