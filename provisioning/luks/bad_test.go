package luks

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"tep.dev/tep/provisioning"
	"tep.dev/tep/provisioning/device"
	"tep.dev/tep/provisioning/pcrpolicy"
)

// TestBadConfig: a tampered YAML, a signature by another key and a P-256
// key for a P-384 device are refused before the TPM is asked, and leave
// the partition as it was.
func TestBadConfig(t *testing.T) {
	r := newRig(t, elliptic.P384())
	ctx := context.Background()
	good := r.sign(r.values(pcrpolicy.SHA256), r.key, 1)
	if _, err := r.dev.Setup(ctx, good, SetupOptions{}); err != nil {
		t.Fatal(err)
	}
	sum := r.imageSum()
	other, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	flipSig := func(c *Config) {
		b, _ := base64.StdEncoding.DecodeString(c.Signature)
		b[len(b)-1] ^= 1
		c.Signature = base64.StdEncoding.EncodeToString(b)
	}
	cases := []struct {
		name    string
		config  func() *Config
		want    error
		wantMsg string
	}{
		{"PCR value changed", func() *Config {
			c := *good
			c.PCRValues = map[int]string{0: good.PCRValues[0], 7: strings.Repeat("ab", 32), 10: good.PCRValues[10]}
			return &c
		}, ErrConfig, "approved_policy"},
		{"epoch changed", func() *Config { c := *good; c.Epoch = 9; return &c }, ErrConfig, "approved_policy"},
		{"signature bit flipped", func() *Config { c := *good; flipSig(&c); return &c }, ErrSignature, "does not verify"},
		{"signed by another key", func() *Config { return r.sign(r.values(pcrpolicy.SHA256), other, 1) }, ErrSignature, "fingerprint"},
		{"signed by another key, claiming ours", func() *Config {
			c := *r.sign(r.values(pcrpolicy.SHA256), other, 1)
			c.Signer, c.AuthorizedPolicy = good.Signer, good.AuthorizedPolicy
			return &c
		}, ErrSignature, "does not verify"},
		{"P-256 key for a P-384 device", func() *Config { return r.sign(r.values(pcrpolicy.SHA256), p256, 1) }, ErrSignature, "ecdsa-p256"},
		{"authorized policy of another key", func() *Config {
			c := *good
			c.AuthorizedPolicy = r.sign(r.values(pcrpolicy.SHA256), other, 1).AuthorizedPolicy
			return &c
		}, ErrConfig, "authorized_policy"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.config()
			for _, op := range []struct {
				name string
				run  func() error
			}{
				{"Unlock", func() error { _, err := r.dev.Unlock(ctx, c); return err }},
				{"Setup", func() error { _, err := r.dev.Setup(ctx, c, SetupOptions{}); return err }},
				{"Revoke", func() error { _, err := r.dev.Revoke(c); return err }},
			} {
				err := op.run()
				if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.wantMsg) {
					t.Errorf("%s = %v, want %v mentioning %q", op.name, err, tc.want, tc.wantMsg)
				}
			}
		})
	}
	if r.imageSum() != sum {
		t.Fatal("a refused configuration changed the partition")
	}
	if v, _, _ := device.ReadCounter(r.tpm, provisioning.LUKSRevocationIndex); v != 1 {
		t.Fatalf("revocation counter = %d after refused revokes, want 1", v)
	}
}

// TestDecodeStrict: the YAML decoder refuses unknown fields, a second
// document, missing fields and bad encodings.
func TestDecodeStrict(t *testing.T) {
	r := newRig(t, elliptic.P384())
	good, err := r.sign(r.values(pcrpolicy.SHA256), r.key, 1).Encode()
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"unknown field":      string(good) + "unlock_anyway: true\n",
		"second document":    string(good) + "---\nversion: 1\n",
		"no signature":       strings.Replace(string(good), "signature:", "#signature:", 1),
		"bad hex":            strings.Replace(string(good), "approved_policy: ", "approved_policy: zz", 1),
		"wrong version":      strings.Replace(string(good), "version: 1", "version: 2", 1),
		"unknown filesystem": string(good) + "filesystem: ntfs\n",
		"too large":          string(good) + "# " + strings.Repeat("x", maxConfigSize) + "\n",
	}
	for name, doc := range cases {
		if _, err := Decode(strings.NewReader(doc)); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: Decode = %v, want ErrConfig", name, err)
		}
	}
	if _, err := Decode(bytes.NewReader(good)); err != nil {
		t.Fatalf("Decode(good) = %v", err)
	}
}

// TestRevocation: after revoke with a newer configuration the older one no
// longer unlocks, in the TPM itself, and the newer one does.
func TestRevocation(t *testing.T) {
	r := newRig(t, elliptic.P384())
	ctx := context.Background()
	v1 := r.sign(r.values(pcrpolicy.SHA384), r.key, 1)
	if _, err := r.dev.Setup(ctx, v1, SetupOptions{}); err != nil {
		t.Fatal(err)
	}
	v2 := r.sign(r.values(pcrpolicy.SHA384), r.key, 2)
	for _, c := range []*Config{v1, v2} {
		if _, err := r.dev.Unlock(ctx, c); err != nil {
			t.Fatalf("Unlock epoch %d before revocation: %v", c.Epoch, err)
		}
	}
	// Revoking with a configuration that does not unlock is refused.
	bad := r.sign(expected(t, pcrpolicy.SHA384, map[int]string{10: "other-os"}), r.key, 3)
	if _, err := r.dev.Revoke(bad); !errors.Is(err, ErrPCRMismatch) {
		t.Fatalf("Revoke with a configuration for other PCRs = %v, want ErrPCRMismatch", err)
	}
	res, err := r.dev.Revoke(v2)
	if err != nil || res.Counter != 2 {
		t.Fatalf("Revoke(epoch 2) = %+v, %v", res, err)
	}
	r.boot()
	if _, err := r.dev.Unlock(ctx, v1); !errors.Is(err, ErrRevoked) {
		t.Fatalf("Unlock epoch 1 after revocation = %v, want ErrRevoked", err)
	}
	key, p, err := r.dev.Verify(v1)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := unsealPassphrase(r.tpm, key, p, v1.Epoch); !errors.Is(err, tpm2.TPMRCPolicy) {
		t.Fatalf("the TPM's PolicyNV with the revoked epoch = %v, want TPM_RC_POLICY", err)
	}
	if st, err := r.dev.Status(v1); err != nil || !st.Revoked || st.Counter != 2 {
		t.Fatalf("Status(epoch 1) = %+v, %v; want revoked at counter 2", st, err)
	}
	if _, err := r.dev.Unlock(ctx, v2); err != nil {
		t.Fatalf("Unlock epoch 2 after revocation: %v", err)
	}
	// A revocation is for good: setup with the old configuration is
	// refused too, and formats nothing.
	sum := r.imageSum()
	if _, err := r.dev.Setup(ctx, v1, SetupOptions{}); !errors.Is(err, ErrRevoked) || r.imageSum() != sum {
		t.Fatalf("Setup(epoch 1) after revocation = %v (image changed: %v)", err, r.imageSum() != sum)
	}
}

// TestMissingSealed: with 0x8100A001 gone, unlock says so and setup does
// not format the partition, which holds data.
func TestMissingSealed(t *testing.T) {
	r := newRig(t, elliptic.P384())
	ctx := context.Background()
	c := r.sign(r.values(pcrpolicy.SHA256), r.key, 1)
	if _, err := r.dev.Setup(ctx, c, SetupOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := evictSealed(r.tpm); err != nil {
		t.Fatal(err)
	}
	sum := r.imageSum()
	if _, err := r.dev.Unlock(ctx, c); !errors.Is(err, ErrNotSealed) || !strings.Contains(err.Error(), "0x8100a001") {
		t.Fatalf("Unlock with no sealed passphrase = %v, want ErrNotSealed naming 0x8100a001", err)
	}
	_, err := r.dev.Setup(ctx, c, SetupOptions{})
	if !errors.Is(err, ErrForeignLUKS) || !strings.Contains(err.Error(), "--reformat-destroys-data") {
		t.Fatalf("Setup on a LUKS partition with no sealed passphrase = %v, want ErrForeignLUKS naming --reformat-destroys-data", err)
	}
	if r.imageSum() != sum {
		t.Fatal("the partition changed")
	}
	if st, err := r.dev.Status(c); err != nil || st.Sealed {
		t.Fatalf("Status = %+v, %v; want no sealed passphrase", st, err)
	}
}

// TestForeignLUKS: a partition that is LUKS with a passphrase this TPM
// does not hold is never formatted without --reformat-destroys-data and
// confirmation.
func TestForeignLUKS(t *testing.T) {
	r := newRig(t, elliptic.P384())
	ctx := context.Background()
	foreign := []byte("someone else's passphrase")
	if err := (Cryptsetup{}).Format(ctx, r.image, foreign, "", FormatOptions{PBKDF: "pbkdf2", PBKDFForceIterations: 1000}); err != nil {
		t.Fatal(err)
	}
	sum := r.imageSum()
	c := r.sign(r.values(pcrpolicy.SHA256), r.key, 1)
	_, err := r.dev.Setup(ctx, c, SetupOptions{})
	if !errors.Is(err, ErrForeignLUKS) || !strings.Contains(err.Error(), "never formats") {
		t.Fatalf("Setup on a foreign LUKS partition = %v, want ErrForeignLUKS", err)
	}
	// The same, with a passphrase already sealed (setup ran for another
	// partition, or the header was replaced).
	if err := sealPassphrase(r.tpm, []byte("sealed-for-another-partition"), mustPolicy(t, c).Authorized); err != nil {
		t.Fatal(err)
	}
	if _, err := r.dev.Setup(ctx, c, SetupOptions{}); !errors.Is(err, ErrForeignLUKS) {
		t.Fatalf("Setup with a sealed passphrase that does not open = %v, want ErrForeignLUKS", err)
	}
	if _, err := r.dev.Setup(ctx, c, SetupOptions{ReformatDestroysData: true}); !errors.Is(err, ErrNotConfirmed) {
		t.Fatalf("Setup --reformat-destroys-data without confirmation = %v, want ErrNotConfirmed", err)
	}
	no := func(string) (bool, error) { return false, nil }
	if _, err := r.dev.Setup(ctx, c, SetupOptions{ReformatDestroysData: true, Confirm: no}); !errors.Is(err, ErrNotConfirmed) {
		t.Fatalf("Setup --reformat-destroys-data answered no = %v, want ErrNotConfirmed", err)
	}
	if r.imageSum() != sum {
		t.Fatal("the foreign partition changed")
	}
	if ok, _ := (Cryptsetup{}).TestPassphrase(ctx, r.image, foreign); !ok {
		t.Fatal("the foreign passphrase no longer opens the partition")
	}
	res, err := r.dev.Setup(ctx, c, SetupOptions{ReformatDestroysData: true, Yes: true})
	if err != nil || res.Action != "formatted" {
		t.Fatalf("Setup --reformat-destroys-data --yes = %+v, %v", res, err)
	}
	r.checkOpens(r.passphrase(c))
	if ok, _ := (Cryptsetup{}).TestPassphrase(ctx, r.image, foreign); ok {
		t.Fatal("the foreign passphrase still opens the reformatted partition")
	}
}

func mustPolicy(t testing.TB, c *Config) Policy {
	t.Helper()
	p, err := c.Policy()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestNotProvisioned: with no policy key in NV, every command says to run
// tep-provision, and setup formats nothing.
func TestNotProvisioned(t *testing.T) {
	r := newRig(t, elliptic.P384())
	ctx := context.Background()
	c := r.sign(r.values(pcrpolicy.SHA256), r.key, 1)
	if _, err := device.Clear(r.tpm, true); err != nil {
		t.Fatal(err)
	}
	sum := r.imageSum()
	if _, err := r.dev.Setup(ctx, c, SetupOptions{}); !errors.Is(err, device.ErrNotProvisioned) || !strings.Contains(err.Error(), "tep-provision") {
		t.Fatalf("Setup with no policy key = %v, want ErrNotProvisioned naming tep-provision", err)
	}
	if _, err := r.dev.Unlock(ctx, c); !errors.Is(err, device.ErrNotProvisioned) {
		t.Fatalf("Unlock with no policy key = %v, want ErrNotProvisioned", err)
	}
	if st, err := r.dev.Status(c); err != nil || !strings.Contains(st.PolicyKeyError, "tep-provision") {
		t.Fatalf("Status with no policy key = %+v, %v", st, err)
	}
	if r.imageSum() != sum {
		t.Fatal("the partition changed")
	}
}

// TestPartitionWithData: a partition with no LUKS header that holds a
// filesystem is not formatted unless told to destroy it.
func TestPartitionWithData(t *testing.T) {
	r := newRig(t, elliptic.P384())
	ctx := context.Background()
	r.sh("mkfs.ext4", "-q", "-F", r.image)
	sum := r.imageSum()
	c := r.sign(r.values(pcrpolicy.SHA256), r.key, 1)
	_, err := r.dev.Setup(ctx, c, SetupOptions{})
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "ext4") {
		t.Fatalf("Setup on an ext4 partition = %v, want ErrInUse naming ext4", err)
	}
	if _, err := r.dev.Setup(ctx, c, SetupOptions{ReformatDestroysData: true}); !errors.Is(err, ErrNotConfirmed) {
		t.Fatalf("Setup --reformat-destroys-data unconfirmed = %v, want ErrNotConfirmed", err)
	}
	if r.imageSum() != sum {
		t.Fatal("the partition changed")
	}
	yes := func(string) (bool, error) { return true, nil }
	if res, err := r.dev.Setup(ctx, c, SetupOptions{ReformatDestroysData: true, Confirm: yes}); err != nil || res.Action != "formatted" {
		t.Fatalf("Setup --reformat-destroys-data, confirmed = %+v, %v", res, err)
	}
	r.checkOpens(r.passphrase(c))
}

// TestUnsignedFieldsTampered: the fields the TPM does not check are
// covered by config_signature: pointing the file at another partition or
// mount point is refused.
func TestUnsignedFieldsTampered(t *testing.T) {
	r := newRig(t, elliptic.P384())
	ctx := context.Background()
	good := r.sign(r.values(pcrpolicy.SHA256), r.key, 1)
	if _, err := r.dev.Setup(ctx, good, SetupOptions{}); err != nil {
		t.Fatal(err)
	}
	for name, change := range map[string]func(*Config){
		"device":     func(c *Config) { c.Device = "/dev/sdb1" },
		"mount":      func(c *Config) { c.Mount = "/tmp/world-readable" },
		"mapping":    func(c *Config) { c.Mapping = "other" },
		"filesystem": func(c *Config) { c.Filesystem = "none" },
		"cryptsetup": func(c *Config) { c.Cryptsetup.PBKDFForceIterations = 1 },
	} {
		c := *good
		change(&c)
		if _, err := r.dev.Unlock(ctx, &c); !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), "config_signature") {
			t.Errorf("Unlock with %s changed = %v, want ErrSignature naming config_signature", name, err)
		}
	}
	if _, err := r.dev.Unlock(ctx, good); err != nil {
		t.Fatalf("Unlock(good) = %v", err)
	}
}
