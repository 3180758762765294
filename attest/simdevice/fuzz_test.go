package simdevice

import (
	"testing"

	"tep.dev/tep/attest"
)

// FuzzActivate feeds Activate any bytes as a credential: it must refuse
// them with an error, never panic, and never return more than a
// TPM2B_DIGEST holds. The device's EK is P-256: the RSA path adds only
// crypto/rsa's OAEP decryption, at a hundred times the cost an input.
func FuzzActivate(f *testing.F) {
	fl, err := New(Config{Devices: 1})
	if err != nil {
		f.Fatal(err)
	}
	d := fl.Devices[0]
	f.Add(makeCredential(f, d.Enroll("").EKPublic, d.AKName(), []byte("fuzz secret")))
	f.Fuzz(func(t *testing.T, cred []byte) {
		act, err := d.Activate(attest.Challenge{Credential: cred})
		if err == nil && len(act.Secret) > maxDigest {
			t.Errorf("Activate recovered a %d-byte secret, more than a TPM2B_DIGEST holds", len(act.Secret))
		}
	})
}
