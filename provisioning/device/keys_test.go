package device

import (
	"crypto/elliptic"
	"errors"
	"strings"
	"testing"

	"tep.dev/tep/provisioning"
	"tep.dev/tep/tpm"
)

// Another kind of object at a handle is a conflict, which --replace
// clears.
func TestForeignObjects(t *testing.T) {
	f := newFixture(t)
	ecc, _, err := f.t.CreateKey(tpm.KeySpec{Kind: tpm.KindECC, Curve: elliptic.P256(), Sign: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := persist(f.t, ecc, provisioning.AESKeyHandle); err != nil {
		t.Fatal(err)
	}
	key := randomBytes(t, 32)
	if _, err := ImportAESKey(f.t, key, false); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "not a usable AES key") {
		t.Fatalf("ImportAESKey over an ECC key = %v, want ErrConflict", err)
	}
	if e, _ := ReadStatus(f.t); e[3].Type != "ECC P-256 key" || e[3].Problem == "" {
		t.Fatalf("status of an ECC key at the AES handle: %+v", e[3])
	}
	if changed, err := ImportAESKey(f.t, key, true); err != nil || !changed {
		t.Fatalf("ImportAESKey --replace = %v, %v", changed, err)
	}

	aes, _, err := f.t.CreateKey(tpm.KeySpec{Kind: tpm.KindAES, Bits: 128, Decrypt: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := persist(f.t, aes, provisioning.DeviceKeyHandle); err != nil {
		t.Fatal(err)
	}
	if _, _, err := CreateDeviceKey(f.t, elliptic.P384(), false); !errors.Is(err, ErrConflict) {
		t.Fatalf("CreateDeviceKey over an AES key = %v, want ErrConflict", err)
	}
	if _, err := DeviceKey(f.t); err == nil || errors.Is(err, ErrNotProvisioned) {
		t.Fatalf("DeviceKey of an AES key = %v, want an error other than ErrNotProvisioned", err)
	}
	if _, changed, err := CreateDeviceKey(f.t, elliptic.P384(), true); err != nil || !changed {
		t.Fatalf("CreateDeviceKey --replace = %v, %v", changed, err)
	}
}

// An AES key without the encrypt attribute cannot make the ECB keystream:
// refused before the TPM is asked.
func TestCTRNeedsEncryptForECB(t *testing.T) {
	f := newFixture(t)
	k, _, err := f.t.CreateKey(tpm.KeySpec{Kind: tpm.KindAES, Bits: 256, Decrypt: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := persist(f.t, k, provisioning.AESKeyHandle); err != nil {
		t.Fatal(err)
	}
	if _, err := newCTR(f.t, make([]byte, 16), true); !errors.Is(err, tpm.ErrUsage) {
		t.Fatalf("newCTR(ECB) with a decrypt-only key = %v, want tpm.ErrUsage", err)
	}
	if _, err := newCTR(f.t, make([]byte, 16), false); err != nil {
		t.Fatalf("newCTR(CTR) with a decrypt-only key = %v", err)
	}
}
