package tpm

import (
	"bytes"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

// FuzzParseSealed checks that parseSealed never panics and that what it
// accepts encodes back to the same bytes.
func FuzzParseSealed(f *testing.F) {
	pub := tpm2.Marshal(tpm2.New2B(sealedTemplate()))
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
		{"swtpm", func(b *testing.B) string { return StartSWTPM(b) }},
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
