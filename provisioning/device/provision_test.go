package device

import (
	"bytes"
	"crypto/elliptic"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestProvision(t *testing.T) {
	f := newFixture(t)
	k := newECKey(t, elliptic.P384())
	key := randomBytes(t, 32)
	req := Request{PolicyKey: &k.PublicKey, AESKey: key}
	r, err := Provision(f.t, req)
	if err != nil || !r.PolicyKeyChanged || !r.AESKeyChanged || r.Profile.AESBits != 256 || !strings.HasPrefix(r.Profile.Name, "ptt") {
		t.Fatalf("Provision = %+v, %v", r, err)
	}
	if r.Epoch == 0 || r.Revocation == 0 {
		t.Fatalf("Provision left the counters without a value: %+v", r)
	}
	r2, err := Provision(f.t, req)
	if err != nil || r2.Changed() || r2.Epoch != r.Epoch {
		t.Fatalf("Provision again = %+v, %v, want nothing changed", r2, err)
	}
	// A new policy key with the old AES key: refused, nothing written.
	other := newECKey(t, elliptic.P384())
	_, err = Provision(f.t, Request{PolicyKey: &other.PublicKey, AESKey: key})
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), fmt.Sprintf("%x", r.PolicyKeyFingerprint)) {
		t.Fatalf("Provision(another policy key) = %v, want ErrConflict with %x", err, r.PolicyKeyFingerprint)
	}
	// The old policy key with a new AES key: refused before the policy
	// key is looked at again, and nothing written.
	k2 := newECKey(t, elliptic.P384())
	_, err = Provision(f.t, Request{PolicyKey: &k2.PublicKey, AESKey: randomBytes(t, 32)})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("Provision(other keys) = %v, want ErrConflict", err)
	}
	if got, _ := PolicyKey(f.t); !got.Equal(&k.PublicKey) {
		t.Fatal("a refused Provision changed the policy key")
	}
	if fp, _ := AESKeyFingerprint(f.t); fp != r.AESKeyFingerprint {
		t.Fatal("a refused Provision changed the AES key")
	}
	newKey := randomBytes(t, 32)
	r3, err := Provision(f.t, Request{PolicyKey: &k2.PublicKey, AESKey: newKey, Replace: true})
	if err != nil || !r3.PolicyKeyChanged || !r3.AESKeyChanged {
		t.Fatalf("Provision --replace = %+v, %v", r3, err)
	}
	if got, _ := PolicyKey(f.t); !got.Equal(&k2.PublicKey) {
		t.Fatal("Provision --replace did not change the policy key")
	}
}

// A refused AES key leaves a new policy key unwritten too.
func TestProvisionAESConflictWritesNothing(t *testing.T) {
	f := newFixture(t)
	importKey(t, f, randomBytes(t, 32))
	k := newECKey(t, elliptic.P384())
	_, err := Provision(f.t, Request{PolicyKey: &k.PublicKey, AESKey: randomBytes(t, 32)})
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "0x8100a000") {
		t.Fatalf("Provision over another AES key = %v, want ErrConflict naming 0x8100a000", err)
	}
	if _, err := PolicyKey(f.t); !errors.Is(err, ErrNotProvisioned) {
		t.Fatalf("after the refusal PolicyKey = %v, want ErrNotProvisioned", err)
	}
}

func TestStatusAndClear(t *testing.T) {
	f := newFixture(t)
	e, err := ReadStatus(f.t)
	if err != nil || len(e) != len(Slots) {
		t.Fatalf("ReadStatus = %v, %v", e, err)
	}
	for _, x := range e {
		if x.Present {
			t.Fatalf("fresh TPM: %+v present", x)
		}
	}
	k := newECKey(t, elliptic.P256())
	key := randomBytes(t, 16)
	if _, err := Provision(f.t, Request{PolicyKey: &k.PublicKey, AESKey: key, Profile: "dtpm"}); err != nil {
		t.Fatal(err)
	}
	dev, _, err := CreateDeviceKey(f.t, elliptic.P384(), false)
	if err != nil {
		t.Fatal(err)
	}
	e, err = ReadStatus(f.t)
	if err != nil {
		t.Fatal(err)
	}
	aesFP, _ := AESFingerprint(key)
	want := map[string]string{
		"0x018a0000": fmt.Sprintf("present ECC P-256 public key %x", Fingerprint(&k.PublicKey)),
		"0x018a0001": "present NV counter ",
		"0x018a0002": "present NV counter ",
		"0x8100a000": fmt.Sprintf("present AES-128 %x", aesFP),
		"0x8100a001": "absent  ",
		"0x8100a002": fmt.Sprintf("present ECC P-384 key %x", Fingerprint(dev)),
	}
	for _, x := range e {
		state := "absent"
		if x.Present {
			state = "present"
		}
		if got := state + " " + x.Type + " " + x.Fingerprint; got != want[x.Handle] || x.Problem != "" {
			t.Errorf("status of %s = %q (problem %q), want %q", x.Handle, got, x.Problem, want[x.Handle])
		}
		if x.Present && x.Handle[2:4] == "81" && len(x.Name) != 68 {
			t.Errorf("status of %s: name %q", x.Handle, x.Name)
		}
		if strings.Contains(x.Type, "counter") && (x.Value == nil || *x.Value == 0) {
			t.Errorf("status of counter %s without a value", x.Handle)
		}
	}
	removed, err := Clear(f.t, false)
	if err != nil || len(removed) != 3 {
		t.Fatalf("Clear = %v, %v, want the policy key, AES key and device key", removed, err)
	}
	e, _ = ReadStatus(f.t)
	for _, x := range e {
		counter := strings.Contains(x.What, "counter")
		if x.Present != counter {
			t.Errorf("after Clear, %s present = %v", x.Handle, x.Present)
		}
	}
	if removed, err := Clear(f.t, true); err != nil || len(removed) != 2 {
		t.Fatalf("Clear(all) = %v, %v, want the two counters", removed, err)
	}
	e, _ = ReadStatus(f.t)
	for _, x := range e {
		if x.Present {
			t.Errorf("after Clear(all), %s present", x.Handle)
		}
	}
	if removed, err := Clear(f.t, true); err != nil || len(removed) != 0 {
		t.Fatalf("Clear on an empty TPM = %v, %v", removed, err)
	}
	if _, err := NewCTR(f.t, make([]byte, 16)); !errors.Is(err, ErrNotProvisioned) {
		t.Fatalf("after Clear NewCTR = %v", err)
	}
}

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	k := newECKey(t, elliptic.P384())
	pemPath := filepath.Join(dir, "pub.pem")
	os.WriteFile(pemPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: mustDER(t, &k.PublicKey)}), 0o644)
	if got, err := ReadPolicyKeyFile(pemPath); err != nil || !got.Equal(&k.PublicKey) {
		t.Fatalf("ReadPolicyKeyFile = %v, %v", got, err)
	}
	bad := filepath.Join(dir, "bad.pem")
	os.WriteFile(bad, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{1}}), 0o600)
	if _, err := ReadPolicyKeyFile(bad); err == nil {
		t.Fatal("ReadPolicyKeyFile of a private key block succeeded")
	}
	p521 := filepath.Join(dir, "p521.pem")
	os.WriteFile(p521, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: mustDER(t, &newECKey(t, elliptic.P521()).PublicKey)}), 0o600)
	if _, err := ReadPolicyKeyFile(p521); err == nil {
		t.Fatal("ReadPolicyKeyFile of a P-521 key succeeded")
	}

	key := randomBytes(t, 32)
	keyPath := filepath.Join(dir, "key.bin")
	os.WriteFile(keyPath, key, 0o600)
	if got, warn, err := ReadAESKey(keyPath, nil); err != nil || warn != "" || !bytes.Equal(got, key) {
		t.Fatalf("ReadAESKey(0600 file) = %x, %q, %v", got, warn, err)
	}
	os.Chmod(keyPath, 0o640)
	if _, warn, err := ReadAESKey(keyPath, nil); err != nil || !strings.Contains(warn, "readable by others") {
		t.Fatalf("ReadAESKey(0640 file) warning %q, %v", warn, err)
	}
	if got, _, err := ReadAESKey("-", bytes.NewReader(key[:16])); err != nil || !bytes.Equal(got, key[:16]) {
		t.Fatalf("ReadAESKey(stdin) = %x, %v", got, err)
	}
	for _, n := range []int{0, 15, 24, 33, 100} {
		if _, _, err := ReadAESKey("-", bytes.NewReader(make([]byte, n))); err == nil {
			t.Errorf("ReadAESKey of %d bytes succeeded", n)
		}
	}
	if err := Shred(keyPath); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(keyPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("after Shred the file: %v", err)
	}
	link := filepath.Join(dir, "link")
	os.Symlink(pemPath, link)
	if err := Shred(link); err == nil {
		t.Fatal("Shred followed a symbolic link")
	}
	if err := Shred(dir); err == nil {
		t.Fatal("Shred of a directory succeeded")
	}
}

// Shred overwrites the blocks before it removes the name: another hard
// link to the file sees the new contents.
func TestShredOverwrites(t *testing.T) {
	dir := t.TempDir()
	path, other := filepath.Join(dir, "key.bin"), filepath.Join(dir, "other")
	key := bytes.Repeat([]byte{0xab}, 32)
	os.WriteFile(path, key, 0o600)
	if err := os.Link(path, other); err != nil {
		t.Fatal(err)
	}
	if err := Shred(path); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(other)
	if err != nil || len(got) != 32 || bytes.Equal(got, key) {
		t.Fatalf("the file's blocks after Shred = %x, %v, want 32 other bytes", got, err)
	}
}
