package simdevice

import (
	"testing"

	"tep.dev/tep/attest"
)

// FuzzActivate feeds Activate any bytes as a credential: it must refuse
// them with an error, never panic, and accept only a credential made for
// the device (the seed corpus starts from one for each EK type).
func FuzzActivate(f *testing.F) {
	fleets := map[string]*Fleet{}
	for _, kind := range []string{KeyP256, KeyRSA2048} {
		fl, err := New(Config{Devices: 1, EK: kind})
		if err != nil {
			f.Fatal(err)
		}
		fleets[kind] = fl
	}
	for _, fl := range fleets {
		d := fl.Devices[0]
		f.Add(makeCredential(f, d.Enroll("").EKPublic, d.AKName(), []byte("fuzz secret")))
	}
	f.Fuzz(func(t *testing.T, cred []byte) {
		for _, fl := range fleets {
			act, err := fl.Devices[0].Activate(attest.Challenge{Credential: cred})
			if err == nil && len(act.Secret) > 64 {
				t.Errorf("Activate recovered a %d-byte secret, more than a TPM2B_DIGEST holds", len(act.Secret))
			}
		}
	})
}
