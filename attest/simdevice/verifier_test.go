package simdevice

import (
	"bytes"
	"crypto/x509"
	"errors"
	"slices"
	"testing"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/credential"
	"tep.dev/tep/attest/ekcert"
	"tep.dev/tep/attest/quote"
)

// TestVerifierChecks runs the verifier's own checks (packages ekcert,
// credential and quote) on simulated devices: their enrolments, their
// activations and their quotes pass, and a tampered quote fails with the
// fault that names the tampering.
func TestVerifierChecks(t *testing.T) {
	for _, c := range []struct{ ek, ak string }{{KeyP256, KeyP256}, {KeyP384, KeyP256}, {KeyRSA2048, KeyRSA2048}} {
		t.Run(c.ek+"-"+c.ak, func(t *testing.T) {
			f := newFleet(t, Config{Devices: 2, EK: c.ek, AK: c.ak, IMA: newGenerator(t, "sha256", "sha384"), IMAEntries: 10, IMAStep: 5})
			d, other := f.Devices[0], f.Devices[1]
			enrol := d.Enroll("")
			roots := x509.NewCertPool()
			roots.AddCert(f.CA.Cert)
			tpm, err := ekcert.Verify(enrol.EKCert, enrol.EKPublic, ekcert.Options{Roots: roots})
			if err != nil || tpm.Manufacturer != tpmManufacturer || tpm.Model != tpmModel {
				t.Fatalf("ekcert.Verify = %+v, %v", tpm, err)
			}
			if _, err := ekcert.Verify(enrol.EKCert, other.Enroll("").EKPublic, ekcert.Options{Roots: roots}); !errors.Is(err, ekcert.ErrKeyMismatch) {
				t.Errorf("ekcert.Verify with another EK = %v, want ErrKeyMismatch", err)
			}
			stranger, _ := NewCA(nil)
			strangers := x509.NewCertPool()
			strangers.AddCert(stranger.Cert)
			if _, err := ekcert.Verify(enrol.EKCert, enrol.EKPublic, ekcert.Options{Roots: strangers}); !errors.Is(err, ekcert.ErrUntrusted) {
				t.Errorf("ekcert.Verify against another CA = %v, want ErrUntrusted", err)
			}

			ak, err := quote.ParseAK(enrol.AKPublic)
			if err != nil || !bytes.Equal(ak.Name, d.AKName()) {
				t.Fatalf("quote.ParseAK = %+v, %v; want name %x", ak, err, d.AKName())
			}
			secret := []byte("verifier's secret for activation")
			blob, err := credential.Make(enrol.EKPublic, ak.Name, secret)
			if err != nil {
				t.Fatal(err)
			}
			act, err := d.Activate(attest.Challenge{Credential: blob})
			if err != nil || !credential.Matches(credential.Digest(secret), act.Secret) {
				t.Fatalf("Activate(credential.Make) = %x, %v", act.Secret, err)
			}
			otherBlob, _ := credential.Make(enrol.EKPublic, other.AKName(), secret)
			if _, err := d.Activate(attest.Challenge{Credential: otherBlob}); !errors.Is(err, ErrIntegrity) {
				t.Errorf("Activate of a credential for another AK = %v, want ErrIntegrity", err)
			}

			policy := quote.Policy{Banks: []string{"sha256", "sha384"}, Firmware: "2.0.1.0"}
			in := quote.Input{AKPublic: enrol.AKPublic, ActivatedName: ak.Name, Policy: policy}
			var prev *quote.State
			var ev attest.Evidence
			for i := range 2 {
				in.Nonce, in.Prev = []byte{1, 2, 3, byte(i)}, prev
				ev, err = d.Evidence(attest.QuoteRequest{Nonce: in.Nonce, PCRs: []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, Banks: policy.Banks})
				if err != nil {
					t.Fatal(err)
				}
				res, err := quote.Verify(ev, in)
				if err != nil || !res.OK() {
					t.Fatalf("quote.Verify of report %d = %+v, %v", i, res, err)
				}
				prev = &res.State
			}
			for _, tc := range []struct {
				name   string
				tamper func(*attest.Evidence, *quote.Input)
				fault  string
			}{
				{"a changed quote", func(e *attest.Evidence, _ *quote.Input) { e.Quote = flip(e.Quote, len(e.Quote)-1) }, attest.FaultQuoteSignature},
				{"a changed PCR value", func(e *attest.Evidence, _ *quote.Input) {
					e.PCRs = slices.Clone(e.PCRs)
					v := map[int][]byte{}
					for k, x := range e.PCRs[0].Values {
						v[k] = x
					}
					v[10] = flip(v[10], 0)
					e.PCRs[0].Values = v
				}, attest.FaultQuotePCRDigest},
				{"an old nonce", func(_ *attest.Evidence, in *quote.Input) { in.Nonce = []byte{9} }, attest.FaultQuoteNonce},
				{"another device's quote", func(e *attest.Evidence, in *quote.Input) {
					o, err := other.Evidence(attest.QuoteRequest{Nonce: in.Nonce, PCRs: []int{0, 10}, Banks: policy.Banks})
					if err != nil {
						t.Fatal(err)
					}
					*e = o
				}, attest.FaultQuoteSignature},
				{"a clock gone back", func(_ *attest.Evidence, in *quote.Input) {
					in.Prev = &quote.State{Clock: prev.Clock + 1_000_000}
				}, attest.FaultQuoteClock},
				{"another firmware", func(_ *attest.Evidence, in *quote.Input) { in.Policy.Firmware = "2.0.1.1" }, attest.FaultFirmwareMismatch},
			} {
				e, in2 := ev, in
				in2.Prev = nil
				tc.tamper(&e, &in2)
				res, err := quote.Verify(e, in2)
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				if !slices.ContainsFunc(res.Faults, func(f attest.Fault) bool { return f.Name == tc.fault }) {
					t.Errorf("%s: faults %+v, want %s", tc.name, res.Faults, tc.fault)
				}
			}
		})
	}
}
