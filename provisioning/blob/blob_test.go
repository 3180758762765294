package blob

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// softKey is a device's keys in software, for the host-side tests.
type softKey struct {
	aes  []byte
	ecdh *ecdh.PrivateKey
}

func (k softKey) NewCTR(iv []byte) (cipher.Stream, error) {
	c, err := aes.NewCipher(k.aes)
	if err != nil {
		return nil, err
	}
	return cipher.NewCTR(c, iv), nil
}

func (k softKey) ZGen(peer *ecdh.PublicKey) ([]byte, error) { return k.ecdh.ECDH(peer) }

func newSoftKey(t testing.TB, aesBytes int, curve ecdh.Curve) softKey {
	t.Helper()
	k := softKey{aes: make([]byte, aesBytes)}
	rand.Read(k.aes)
	var err error
	if k.ecdh, err = curve.GenerateKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
	return k
}

func newSigner(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func seal(t testing.TB, content []byte, o Options) []byte {
	t.Helper()
	b, err := Seal(content, o)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	content := []byte("a .tgz would be here")
	for _, tc := range []struct {
		name  string
		curve elliptic.Curve
		aes   int
		dh    ecdh.Curve
		mode  Mode
	}{
		{"aes256-p384", elliptic.P384(), 32, ecdh.P384(), ModeAES},
		{"aes128-p256", elliptic.P256(), 16, ecdh.P256(), ModeAES},
		{"ecdh-p384", elliptic.P384(), 32, ecdh.P384(), ModeECDH},
		{"ecdh-p256", elliptic.P256(), 16, ecdh.P256(), ModeECDH},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dev := newSoftKey(t, tc.aes, tc.dh)
			signer := newSigner(t, tc.curve)
			o := Options{Signer: signer, Epoch: 7}
			if tc.mode == ModeAES {
				o.AESKey = dev.aes
			} else {
				o.DeviceKey = dev.ecdh.PublicKey()
			}
			raw := seal(t, content, o)
			v, err := Verify(raw, &signer.PublicKey)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if v.Mode != tc.mode || v.Epoch != 7 {
				t.Errorf("Verify = mode %v epoch %d, want %v 7", v.Mode, v.Epoch, tc.mode)
			}
			if !bytes.Equal(v.Marshal(), raw) {
				t.Error("Marshal(Parse(raw)) != raw")
			}
			got, err := Decrypt(v, dev, nil)
			if err != nil {
				t.Fatalf("Decrypt: %v", err)
			}
			if !bytes.Equal(got, content) {
				t.Errorf("Decrypt = %q, want %q", got, content)
			}
		})
	}
}

// fields names each field's byte range in an aes blob with a P-384
// signature, for the flipped-bit tests.
func fields(raw []byte) map[string][2]int {
	b, _ := Parse(raw)
	ct := fixedLen + len(b.Key) + 8
	sig := ct + len(b.Ciphertext)
	return map[string][2]int{
		"magic": {0, 4}, "version": {4, 5}, "mode": {5, 6}, "sigalg": {6, 7}, "flags": {7, 8},
		"epoch": {8, 16}, "fingerprint": {16, 48}, "keylen": {48, 50}, "iv": {50, 50 + len(b.Key)},
		"ctlen": {ct - 8, ct}, "ciphertext": {ct, sig}, "signature": {sig, len(raw) - 2},
		"siglen": {len(raw) - 2, len(raw)},
	}
}

func TestFlippedBits(t *testing.T) {
	signer := newSigner(t, elliptic.P384())
	for _, mode := range []Mode{ModeAES, ModeECDH} {
		dev := newSoftKey(t, 32, ecdh.P384())
		o := Options{Signer: signer, Epoch: 3}
		if mode == ModeAES {
			o.AESKey = dev.aes
		} else {
			o.DeviceKey = dev.ecdh.PublicKey()
		}
		raw := seal(t, bytes.Repeat([]byte("x"), 100), o)
		for name, r := range fields(raw) {
			for _, at := range []int{r[0], r[1] - 1} {
				bad := bytes.Clone(raw)
				bad[at] ^= 0x01
				_, err := Verify(bad, &signer.PublicKey)
				if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrSignature) && !errors.Is(err, ErrSigner) {
					t.Errorf("%v: bit flipped in %s at %d: Verify = %v, want a format, signer or signature error", mode, name, at, err)
				}
			}
		}
	}
}

func TestTruncated(t *testing.T) {
	signer := newSigner(t, elliptic.P256())
	raw := seal(t, []byte("content"), Options{Signer: signer, AESKey: make([]byte, 16)})
	for n := range len(raw) {
		if _, err := Verify(raw[:n], &signer.PublicKey); err == nil {
			t.Fatalf("Verify(first %d of %d bytes) = nil error", n, len(raw))
		}
	}
	if _, err := Verify(append(bytes.Clone(raw), 0), &signer.PublicKey); !errors.Is(err, ErrFormat) {
		t.Errorf("Verify(one byte more) = %v, want ErrFormat", err)
	}
}

func TestOtherSigner(t *testing.T) {
	signer, other := newSigner(t, elliptic.P384()), newSigner(t, elliptic.P384())
	raw := seal(t, []byte("content"), Options{Signer: other, AESKey: make([]byte, 32)})
	if _, err := Verify(raw, &signer.PublicKey); !errors.Is(err, ErrSigner) {
		t.Errorf("Verify(other signer) = %v, want ErrSigner", err)
	}
	// A forger who copies the right fingerprint still lacks the key.
	b, _ := Parse(raw)
	b.Signer, _ = Fingerprint(&signer.PublicKey)
	if _, err := Verify(b.Marshal(), &signer.PublicKey); !errors.Is(err, ErrSignature) {
		t.Errorf("Verify(forged fingerprint) = %v, want ErrSignature", err)
	}
}

func TestOtherDeviceKey(t *testing.T) {
	signer := newSigner(t, elliptic.P384())
	dev, other := newSoftKey(t, 32, ecdh.P384()), newSoftKey(t, 32, ecdh.P384())
	for _, o := range []Options{
		{Signer: signer, AESKey: other.aes},
		{Signer: signer, DeviceKey: other.ecdh.PublicKey()},
	} {
		v, err := Verify(seal(t, []byte("content"), o), &signer.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Decrypt(v, dev, nil); !errors.Is(err, ErrDecrypt) {
			t.Errorf("Decrypt(%v blob for another device) = %v, want ErrDecrypt", v.Mode, err)
		}
	}
}

func TestSealRefuses(t *testing.T) {
	rsaLike := newSigner(t, elliptic.P224())
	for name, o := range map[string]Options{
		"p224 signer": {Signer: rsaLike, AESKey: make([]byte, 16)},
		"no key":      {Signer: newSigner(t, elliptic.P256())},
		"both keys":   {Signer: newSigner(t, elliptic.P256()), AESKey: make([]byte, 16), DeviceKey: newSoftKey(t, 16, ecdh.P256()).ecdh.PublicKey()},
		"24-byte key": {Signer: newSigner(t, elliptic.P256()), AESKey: make([]byte, 24)},
		"bad signer":  {Signer: badSigner{newSigner(t, elliptic.P256())}, AESKey: make([]byte, 16)},
	} {
		if _, err := Seal([]byte("x"), o); err == nil {
			t.Errorf("Seal(%s) = nil error", name)
		}
	}
}

// badSigner returns a raw r||s signature instead of DER.
type badSigner struct{ *ecdsa.PrivateKey }

func (s badSigner) Sign(_ io.Reader, _ []byte, _ crypto.SignerOpts) ([]byte, error) {
	return make([]byte, 200), nil
}

func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.bin")
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		b, err := Parse(raw)
		if err != nil {
			return
		}
		if !bytes.Equal(b.Marshal(), raw) {
			t.Fatalf("Marshal(Parse(%x)) = %x", raw, b.Marshal())
		}
	})
}
