package simdevice

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/credential"
)

// makeCredential is go-tpm's software TPM2_MakeCredential, in
// tpm2-tools' file format (written here, not with package credential,
// so that the two check each other).
func makeCredential(t testing.TB, ekPublic, name, secret []byte) []byte {
	t.Helper()
	pub, err := tpm2.Unmarshal[tpm2.TPMTPublic](ekPublic)
	if err != nil {
		t.Fatal(err)
	}
	key, err := tpm2.ImportEncapsulationKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	idObject, encSecret, err := tpm2.CreateCredential(rand.Reader, key, name, secret)
	if err != nil {
		t.Fatal(err)
	}
	b := binary.BigEndian.AppendUint32(nil, 0xBADCC0DE)
	b = binary.BigEndian.AppendUint32(b, 1)
	b = binary.BigEndian.AppendUint16(b, uint16(len(idObject)))
	b = append(b, idObject...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(encSecret)))
	return append(b, encSecret...)
}

// TestActivate runs the credential round trip with go-tpm's
// MakeCredential for every EK type, and checks that a credential for
// another AK or another EK, or a changed one, is refused.
func TestActivate(t *testing.T) {
	for _, kind := range []string{KeyP256, KeyP384, KeyRSA2048} {
		t.Run(kind, func(t *testing.T) {
			f := newFleet(t, Config{Devices: 2, EK: kind})
			d, other := f.Devices[0], f.Devices[1]
			secret := []byte("0123456789abcdef0123456789abcdef")
			cred := makeCredential(t, d.Enroll("").EKPublic, d.AKName(), secret)
			act, err := d.Activate(attest.Challenge{EnrollmentID: "e1", Credential: cred})
			if err != nil || act.EnrollmentID != "e1" || !bytes.Equal(act.Secret, secret) {
				t.Fatalf("Activate = %+v, %v; want the secret", act, err)
			}
			for name, c := range map[string][]byte{
				"another AK's name":  makeCredential(t, d.Enroll("").EKPublic, other.AKName(), secret),
				"another EK":         makeCredential(t, other.Enroll("").EKPublic, d.AKName(), secret),
				"a changed identity": flip(cred, 8+2+2+3),
				"a changed seed":     flip(cred, len(cred)-5),
			} {
				if _, err := d.Activate(attest.Challenge{Credential: c}); !errors.Is(err, ErrIntegrity) {
					t.Errorf("Activate of a credential for %s = %v, want ErrIntegrity", name, err)
				}
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	b = bytes.Clone(b)
	b[i] ^= 1
	return b
}

// TestActivateFormat checks that what is not a credential blob is
// refused as such.
func TestActivateFormat(t *testing.T) {
	f := newFleet(t, Config{Devices: 1})
	d := f.Devices[0]
	good := makeCredential(t, d.Enroll("").EKPublic, d.AKName(), []byte("secret"))
	for name, b := range map[string][]byte{
		"empty":          nil,
		"bad magic":      flip(good, 0),
		"bad version":    flip(good, 7),
		"trailing bytes": append(bytes.Clone(good), 0),
		"truncated":      good[:len(good)-1],
		"no secret":      good[:8+2+int(binary.BigEndian.Uint16(good[8:]))],
	} {
		if _, err := d.Activate(attest.Challenge{Credential: b}); !errors.Is(err, credential.ErrFormat) {
			t.Errorf("Activate(%s) = %v, want credential.ErrFormat", name, err)
		}
	}
}

// TestActivateTPM2Tools activates a credential that tpm2_makecredential
// made in software (-T none), as a verifier using tpm2-tools would.
func TestActivateTPM2Tools(t *testing.T) {
	if _, err := exec.LookPath("tpm2_makecredential"); err != nil {
		t.Fatal("tpm2_makecredential not installed: scripts/deps.sh installs tpm2-tools")
	}
	for _, kind := range []string{KeyRSA2048, KeyP256} {
		t.Run(kind, func(t *testing.T) {
			f := newFleet(t, Config{Devices: 1, EK: kind})
			d := f.Devices[0]
			dir := t.TempDir()
			pub, err := tpm2.Unmarshal[tpm2.TPMTPublic](d.Enroll("").EKPublic)
			if err != nil {
				t.Fatal(err)
			}
			secret := []byte("tpm2-tools secret")
			ekFile, secretFile, out := filepath.Join(dir, "ek.pub"), filepath.Join(dir, "secret"), filepath.Join(dir, "cred")
			os.WriteFile(ekFile, tpm2.Marshal(tpm2.New2B(*pub)), 0o600)
			os.WriteFile(secretFile, secret, 0o600)
			cmd := exec.Command("tpm2_makecredential", "-T", "none", "-u", ekFile, "-s", secretFile,
				"-n", hex.EncodeToString(d.AKName()), "-o", out)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("tpm2_makecredential: %v: %s", err, b)
			}
			cred, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			act, err := d.Activate(attest.Challenge{Credential: cred})
			if err != nil || !bytes.Equal(act.Secret, secret) {
				t.Errorf("Activate(tpm2_makecredential's blob) = %q, %v; want %q", act.Secret, err, secret)
			}
		})
	}
}
