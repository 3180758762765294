package credential

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

// softEK is an EK public area around a software RSA key, for tests that
// need no TPM (the TPM tests are in package attest/agent).
func softEK(t testing.TB) []byte {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub := tpm2.RSAEKTemplate
	pub.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: k.N.Bytes()})
	return tpm2.Marshal(pub)
}

func akName() []byte {
	d := sha256.Sum256([]byte("ak"))
	return append([]byte{0x00, 0x0b}, d[:]...)
}

func TestMakeParse(t *testing.T) {
	ek := softEK(t)
	blob, err := Make(ek, akName(), []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(blob, []byte{0xba, 0xdc, 0xc0, 0xde, 0, 0, 0, 1}) {
		t.Errorf("blob starts %x, want the tpm2-tools header badcc0de00000001", blob[:8])
	}
	b, err := Parse(blob)
	if err != nil {
		t.Fatal(err)
	}
	// RSA-OAEP encrypts the seed to the 2048-bit EK: 256 bytes; the ID
	// object is a SHA-256 HMAC (2+32) and the encrypted 2+32-byte secret.
	if len(b.EncryptedSecret) != 256 || len(b.IDObject) != 2+32+2+32 {
		t.Errorf("parts of %d and %d bytes, want 256 and 68", len(b.EncryptedSecret), len(b.IDObject))
	}
	if !bytes.Equal(b.Bytes(), blob) {
		t.Error("Parse(blob).Bytes() != blob")
	}
}

func TestMakeRejects(t *testing.T) {
	ek := softEK(t)
	signing := tpm2.RSAEKTemplate
	signing.ObjectAttributes.Decrypt, signing.ObjectAttributes.SignEncrypt = false, true
	for _, c := range []struct {
		name           string
		ek, ak, secret []byte
	}{
		{"empty secret", ek, akName(), nil},
		{"long secret", ek, akName(), make([]byte, 65)},
		{"short name", ek, []byte{0}, []byte("s")},
		{"name digest size", ek, append([]byte{0, 0x0b}, make([]byte, 20)...), []byte("s")},
		{"name alg", ek, append([]byte{0, 0x99}, make([]byte, 32)...), []byte("s")},
		{"EK bytes", []byte{1, 2, 3}, akName(), []byte("s")},
		{"signing EK", tpm2.Marshal(signing), akName(), []byte("s")},
	} {
		if _, err := Make(c.ek, c.ak, c.secret); err == nil {
			t.Errorf("%s: Make succeeded", c.name)
		}
	}
}

func TestNewChallenge(t *testing.T) {
	blob, d, err := NewChallenge(softEK(t), akName())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(blob); err != nil || d == ([32]byte{}) {
		t.Errorf("NewChallenge = %x, %x, %v", blob, d, err)
	}
	if _, _, err := NewChallenge([]byte{1}, akName()); err == nil {
		t.Error("NewChallenge for no EK succeeded")
	}
}

func TestParseRejects(t *testing.T) {
	good := Blob{IDObject: []byte{1, 2}, EncryptedSecret: []byte{3}}.Bytes()
	for _, c := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"magic", append([]byte{0xba, 0xdc, 0xc0, 0xdf}, good[4:]...)},
		{"version", append([]byte{0xba, 0xdc, 0xc0, 0xde, 0, 0, 0, 2}, good[8:]...)},
		{"truncated id", good[:9]},
		{"truncated secret", good[:len(good)-1]},
		{"trailing", append(append([]byte{}, good...), 0)},
		{"empty part", Blob{IDObject: []byte{1}}.Bytes()},
	} {
		if _, err := Parse(c.b); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: Parse = %v, want ErrFormat", c.name, err)
		}
	}
}

func TestDigest(t *testing.T) {
	d := Digest([]byte("secret"))
	if !Matches(d, []byte("secret")) || Matches(d, []byte("secreT")) || Matches(d, nil) {
		t.Error("Matches does not tell the secret from others")
	}
}

// FuzzParse checks that Parse never panics and that what it accepts
// encodes back to the same bytes. Seeds: testdata/*.cred, made by
// tpm2_makecredential and by Make.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.cred")
	if len(seeds) == 0 {
		f.Fatal("no seeds in testdata")
	}
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		blob, err := Parse(b)
		if err != nil {
			return
		}
		if !bytes.Equal(blob.Bytes(), b) {
			t.Errorf("Parse(%x).Bytes() = %x", b, blob.Bytes())
		}
	})
}
