package config

import (
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"tep.dev/tep/provisioning/blob"
	"tep.dev/tep/provisioning/device"
)

// Any process that can open the TPM is its owner while the owner
// authorization is empty, and can put a key of its own in the policy
// key's NV index (as WritePolicyKey with replace does; tpm2_nvundefine,
// nvdefine, nvwrite and nvwritelock do the same). The settings' pin, in
// a file only root writes, is what stops its blobs.
func TestApplyPolicyKeyPin(t *testing.T) {
	r := newRig(t, ptt)
	fp, err := blob.Fingerprint(&r.signer.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	r.opts.SettingsFile = filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(r.opts.SettingsFile, []byte("policy_key: SHA256:"+hex.EncodeToString(fp[:])+"\n"), 0o644)
	r.good()

	evil, err := ecdsa.GenerateKey(r.signer.Curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := device.WritePolicyKey(r.tpm, &evil.PublicKey, true); err != nil {
		t.Fatal(err)
	}
	b, err := blob.Seal(tree(t, map[string]string{"app/app.conf": "owned\n"}), blob.Options{Signer: evil, Epoch: r.epoch() + 1, DeviceKey: r.devKey})
	if err != nil {
		t.Fatal(err)
	}
	r.put(b)
	before := r.state()
	if _, err := Apply(r.dev, r.opts); !isStep(err, StepVerify) || !errors.Is(err, ErrPolicyKeyPin) {
		t.Fatalf("Apply(blob of a key swapped into NV) = %v, want a verify failure with ErrPolicyKeyPin", err)
	}
	if !reflect.DeepEqual(r.state(), before) {
		t.Error("state changed")
	}

	// The operator's key back in NV: its blobs apply again.
	if _, err := device.WritePolicyKey(r.tpm, &r.signer.PublicKey, true); err != nil {
		t.Fatal(err)
	}
	r.good()

	for _, bad := range []string{"policy_key: 1234\n", "policy_key: zz\n"} {
		os.WriteFile(r.opts.SettingsFile, []byte(bad), 0o644)
		r.put(b)
		if _, err := Apply(r.dev, r.opts); !isStep(err, StepSettings) {
			t.Errorf("Apply with settings %q = %v, want a settings failure", bad, err)
		}
	}
}
