package device

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"tep.dev/tep/internal/swtpm"
	"tep.dev/tep/provisioning"
	"tep.dev/tep/tpm"
	"tep.dev/tep/tpm/tpmtest"
)

// fixture is a fresh swtpm on TCP (so that tpm2-tools can reach it too)
// and the TPM opened on it.
type fixture struct {
	spec string
	t    *tpm.TPM
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{spec: tpmtest.Start(t, swtpm.Config{TCP: true})}
	f.open(t)
	t.Cleanup(func() { f.close(t) })
	return f
}

func (f *fixture) open(t *testing.T) {
	t.Helper()
	tp, err := tpm.Open(f.spec, t.TempDir())
	if err != nil {
		t.Fatalf("tpm.Open(%q): %v", f.spec, err)
	}
	f.t = tp
}

// close closes the TPM, which swtpm needs before it serves another
// connection (tpm2-tools, a command under test).
func (f *fixture) close(t *testing.T) {
	t.Helper()
	if f.t == nil {
		return
	}
	if err := f.t.Close(); err != nil {
		t.Errorf("closing the TPM: %v", err)
	}
	f.t = nil
}

func newECKey(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestPolicyKeyMissing(t *testing.T) {
	f := newFixture(t)
	_, err := PolicyKey(f.t)
	if !errors.Is(err, ErrNotProvisioned) || !strings.Contains(err.Error(), "tep-provision device") || !strings.Contains(err.Error(), "0x018a0000") {
		t.Fatalf("PolicyKey on a fresh TPM = %v, want ErrNotProvisioned naming the index and tep-provision device", err)
	}
}

func TestWritePolicyKey(t *testing.T) {
	f := newFixture(t)
	for _, c := range []elliptic.Curve{elliptic.P384(), elliptic.P256()} {
		t.Run(c.Params().Name, func(t *testing.T) {
			k := newECKey(t, c)
			changed, err := WritePolicyKey(f.t, &k.PublicKey, true)
			if err != nil || !changed {
				t.Fatalf("WritePolicyKey = %v, %v, want true, nil", changed, err)
			}
			if changed, err := WritePolicyKey(f.t, &k.PublicKey, false); err != nil || changed {
				t.Fatalf("WritePolicyKey again = %v, %v, want false, nil", changed, err)
			}
			got, err := PolicyKey(f.t)
			if err != nil || !got.Equal(&k.PublicKey) {
				t.Fatalf("PolicyKey = %v, %v, want the key written", got, err)
			}
			other := newECKey(t, c)
			_, err = WritePolicyKey(f.t, &other.PublicKey, false)
			fp := Fingerprint(&k.PublicKey)
			if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "0x018a0000") || !strings.Contains(err.Error(), hexOf(fp[:])) {
				t.Fatalf("WritePolicyKey(another key) = %v, want ErrConflict naming the index and fingerprint %x", err, fp)
			}
			if got, _ := PolicyKey(f.t); !got.Equal(&k.PublicKey) {
				t.Fatal("a refused write changed the key")
			}
		})
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	var s strings.Builder
	for _, c := range b {
		s.WriteByte(digits[c>>4])
		s.WriteByte(digits[c&15])
	}
	return s.String()
}

// The index is write-locked: even the owner cannot write it, only undefine
// it.
func TestPolicyKeyWriteLocked(t *testing.T) {
	f := newFixture(t)
	k := newECKey(t, elliptic.P384())
	if _, err := WritePolicyKey(f.t, &k.PublicKey, false); err != nil {
		t.Fatal(err)
	}
	err := f.t.Do(func(tr transport.TPM) error {
		nv, err := readPolicyIndex(tr)
		if err != nil {
			return err
		}
		_, err = tpm2.NVWrite{
			AuthHandle: ownerAuth,
			NVIndex:    tpm2.NamedHandle{Handle: provisioning.PolicyKeyIndex, Name: nv.name},
			Data:       tpm2.TPM2BMaxNVBuffer{Buffer: []byte{0}},
		}.Execute(tr)
		return err
	})
	if !errors.Is(err, tpm2.TPMRCNVLocked) {
		t.Fatalf("NV_Write by the owner on the locked index = %v, want TPM_RC_NV_LOCKED", err)
	}
}

// An index someone else defined, writable with its auth value, is not
// trusted.
func TestPolicyKeyUnlocked(t *testing.T) {
	f := newFixture(t)
	k := newECKey(t, elliptic.P256())
	der := mustDER(t, &k.PublicKey)
	pub := tpm2.TPMSNVPublic{
		NVIndex: provisioning.PolicyKeyIndex, NameAlg: tpm2.TPMAlgSHA256, DataSize: uint16(len(der)),
		Attributes: tpm2.TPMANV{AuthWrite: true, AuthRead: true, OwnerRead: true, NoDA: true},
	}
	err := f.t.Do(func(tr transport.TPM) error {
		if _, err := (tpm2.NVDefineSpace{AuthHandle: ownerAuth, PublicInfo: tpm2.New2B(pub)}).Execute(tr); err != nil {
			return err
		}
		name, _ := tpm2.NVName(&pub)
		_, err := tpm2.NVWrite{
			AuthHandle: tpm2.AuthHandle{Handle: pub.NVIndex, Name: *name, Auth: tpm2.PasswordAuth(nil)},
			NVIndex:    tpm2.NamedHandle{Handle: pub.NVIndex, Name: *name},
			Data:       tpm2.TPM2BMaxNVBuffer{Buffer: der},
		}.Execute(tr)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := PolicyKey(f.t); !errors.Is(err, ErrNotProvisioned) || !strings.Contains(err.Error(), "--replace") {
		t.Fatalf("PolicyKey of a writable index = %v, want ErrNotProvisioned saying --replace", err)
	}
	if _, err := WritePolicyKey(f.t, &k.PublicKey, false); !errors.Is(err, ErrConflict) {
		t.Fatalf("WritePolicyKey over a writable index = %v, want ErrConflict", err)
	}
	if changed, err := WritePolicyKey(f.t, &k.PublicKey, true); err != nil || !changed {
		t.Fatalf("WritePolicyKey --replace = %v, %v", changed, err)
	}
	if got, err := PolicyKey(f.t); err != nil || !got.Equal(&k.PublicKey) {
		t.Fatalf("PolicyKey after --replace = %v, %v", got, err)
	}
}

func TestWritePolicyKeyRefusesCurves(t *testing.T) {
	f := newFixture(t)
	k := newECKey(t, elliptic.P521())
	if _, err := WritePolicyKey(f.t, &k.PublicKey, false); err == nil {
		t.Fatal("WritePolicyKey(P-521) succeeded")
	}
	if _, err := PolicyKey(f.t); !errors.Is(err, ErrNotProvisioned) {
		t.Fatalf("after a refused write, PolicyKey = %v", err)
	}
}

func TestFingerprint(t *testing.T) {
	k := newECKey(t, elliptic.P384())
	a, b := Fingerprint(&k.PublicKey), Fingerprint(k.Public())
	if a != b || a == [32]byte{} {
		t.Fatalf("Fingerprint = %x and %x, want equal and non-zero", a, b)
	}
	if o := newECKey(t, elliptic.P384()); Fingerprint(&o.PublicKey) == a {
		t.Fatal("two keys with one fingerprint")
	}
	if Fingerprint(struct{}{}) != [32]byte{} {
		t.Fatal("Fingerprint of a non-key is not zero")
	}
}

// defineIndex defines the policy key's index with attrs and size, and
// writes data into it with the owner's authorization if data is not nil.
func defineIndex(t *testing.T, f *fixture, attrs tpm2.TPMANV, size int, data []byte) {
	t.Helper()
	pub := tpm2.TPMSNVPublic{NVIndex: provisioning.PolicyKeyIndex, NameAlg: tpm2.TPMAlgSHA256, Attributes: attrs, DataSize: uint16(size)}
	err := f.t.Do(func(tr transport.TPM) error {
		if _, err := (tpm2.NVDefineSpace{AuthHandle: ownerAuth, PublicInfo: tpm2.New2B(pub)}).Execute(tr); err != nil {
			return err
		}
		if data == nil {
			return nil
		}
		name, _ := tpm2.NVName(&pub)
		_, err := tpm2.NVWrite{AuthHandle: ownerAuth, NVIndex: tpm2.NamedHandle{Handle: pub.NVIndex, Name: *name}, Data: tpm2.TPM2BMaxNVBuffer{Buffer: data}}.Execute(tr)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A run that stopped after defining the index, or after writing it but
// before the lock, is finished by the next run with the same key; with
// another key, it is a conflict.
func TestWritePolicyKeyFinishesEarlierRun(t *testing.T) {
	k := newECKey(t, elliptic.P384())
	der := mustDER(t, &k.PublicKey)
	for _, c := range []struct {
		name string
		data []byte
	}{{"defined", nil}, {"written", der}} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			defineIndex(t, f, policyAttrs(false), len(der), c.data)
			if _, err := PolicyKey(f.t); !errors.Is(err, ErrNotProvisioned) {
				t.Fatalf("PolicyKey of an unfinished index = %v, want ErrNotProvisioned", err)
			}
			other := newECKey(t, elliptic.P384())
			if c.data != nil {
				if _, err := WritePolicyKey(f.t, &other.PublicKey, false); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "unlocked contents") {
					t.Fatalf("WritePolicyKey(another key) over unlocked contents = %v, want ErrConflict", err)
				}
			}
			if changed, err := WritePolicyKey(f.t, &k.PublicKey, false); err != nil || !changed {
				t.Fatalf("WritePolicyKey finishing the run = %v, %v", changed, err)
			}
			if got, err := PolicyKey(f.t); err != nil || !got.Equal(&k.PublicKey) {
				t.Fatalf("PolicyKey = %v, %v", got, err)
			}
		})
	}
}

// An index too large to be a policy key is not read; --replace clears it.
func TestPolicyKeyOversizedIndex(t *testing.T) {
	f := newFixture(t)
	defineIndex(t, f, policyAttrs(false), 1024, nil)
	// Written, so that its size counts.
	err := f.t.Do(func(tr transport.TPM) error {
		pub, name, err := nvPublic(tr, provisioning.PolicyKeyIndex)
		if err != nil {
			return err
		}
		_, err = tpm2.NVWrite{AuthHandle: ownerAuth, NVIndex: tpm2.NamedHandle{Handle: pub.NVIndex, Name: name}, Data: tpm2.TPM2BMaxNVBuffer{Buffer: make([]byte, 256)}}.Execute(tr)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := PolicyKey(f.t); err == nil || !strings.Contains(err.Error(), "1024 bytes") {
		t.Fatalf("PolicyKey of a 1024-byte index = %v", err)
	}
	k := newECKey(t, elliptic.P256())
	if _, err := WritePolicyKey(f.t, &k.PublicKey, false); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "1024 bytes") {
		t.Fatalf("WritePolicyKey over a 1024-byte index = %v, want ErrConflict", err)
	}
	if changed, err := WritePolicyKey(f.t, &k.PublicKey, true); err != nil || !changed {
		t.Fatalf("WritePolicyKey --replace = %v, %v", changed, err)
	}
	if got, err := PolicyKey(f.t); err != nil || !got.Equal(&k.PublicKey) {
		t.Fatalf("PolicyKey = %v, %v", got, err)
	}
}
