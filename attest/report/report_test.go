package report_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/internal/jws"
	"tep.dev/tep/attest/report"
)

func sample() report.Report {
	pcr := 0
	return report.New("edge-1", time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC), []report.Rule{
		{Name: "pcr_matches", Part: "PLATFORM", FlavorID: "f1", PCR: &pcr, Bank: "sha256", Trusted: true},
		{Name: "runtime_policy", Trusted: false, Faults: []attest.Fault{{
			Name: attest.FaultIMAFileUnknown, File: "/usr/bin/evil", Actual: "sha256:00"}}},
	})
}

func keys(t *testing.T) map[string]crypto.Signer {
	t.Helper()
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]crypto.Signer{"P-256": p256, "P-384": p384, "Ed25519": ed, "RSA": rk}
}

func TestNew(t *testing.T) {
	r := sample()
	if r.Trusted || len(r.Faults) != 1 || r.Faults[0].File != "/usr/bin/evil" {
		t.Errorf("New = trusted %v, faults %v; want untrusted with the rule's fault", r.Trusted, r.Faults)
	}
	if r := report.New("h", time.Unix(0, 0), r.Rules[:1]); !r.Trusted {
		t.Error("New with one trusted rule is not trusted")
	}
	if r := report.New("h", time.Unix(0, 0), nil); r.Trusted {
		t.Error("New with no rules is trusted")
	}
}

func TestSignVerify(t *testing.T) {
	for name, k := range keys(t) {
		t.Run(name, func(t *testing.T) {
			r := sample()
			s, err := report.Sign(r, k)
			if err != nil {
				t.Fatal(err)
			}
			got, err := report.Verify(s, k.Public())
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(r, got); d != "" {
				t.Errorf("Verify(Sign(r)) differs (-want +got):\n%s", d)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	ks := keys(t)
	k := ks["P-256"]
	s, err := report.Sign(sample(), k)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(s, ".")
	trusted := strings.Replace(decode(t, parts[1]), `"trusted":false`, `"trusted":true`, 1)
	flavorTyped, _ := jws.Sign([]byte(decode(t, parts[1])), "tep-flavor+json", k)
	cases := map[string]struct {
		jws string
		pub crypto.PublicKey
	}{
		"payload changed":  {parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(trusted)) + "." + parts[2], k.Public()},
		"signature cut":    {s[:len(s)-4], k.Public()},
		"another key":      {s, ks["P-384"].Public()},
		"same curve other": {s, mustP256(t).Public()},
		"alg none":         {base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"`+report.Type+`"}`)) + "." + parts[1] + ".", k.Public()},
		"another type":     {flavorTyped, k.Public()},
		"garbage":          {"not a jws", k.Public()},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := report.Verify(c.jws, c.pub); !errors.Is(err, report.ErrSignature) {
				t.Errorf("Verify = %v, want ErrSignature", err)
			}
		})
	}
}

func mustP256(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func decode(t *testing.T, s string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
