package e2e

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"tep.dev/tep/attest/credential"
	"tep.dev/tep/attest/store"
	"tep.dev/tep/attest/verifier"
	"tep.dev/tep/internal/swtpm"
)

// TestOneEKTwoHosts is a red-team attack by a device owner with two
// enrolment tokens: the TPM enrolled as one host enrols again as a second
// host, its EK public area sent with another authPolicy. The credential
// depends only on the EK's key, name algorithm and symmetric scheme, so
// the real EK still activates it; the verifier must still see one EK,
// which is one host.
func TestOneEKTwoHosts(t *testing.T) {
	ctx := context.Background()
	ca := filepath.Join(t.TempDir(), "ca")
	d := newDevice(t, "edge-a", ca, 4, 1)
	s, err := store.OpenSQLite(filepath.Join(t.TempDir(), "v.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v := verifier.New(verifier.Config{
		Store: s, EK: ekChecker{certPool(t, swtpm.RootCert(ca)), certPool(t, swtpm.IssuerCert(ca))},
		Credential: credential.Make,
	})
	enrol := func(host string, tweak bool) error {
		t.Helper()
		tok, _, err := v.CreateToken(ctx, store.RoleEnroll, 0)
		if err != nil {
			t.Fatal(err)
		}
		req, err := d.agent.Enroll(host, tok)
		if err != nil {
			t.Fatal(err)
		}
		if tweak {
			pub, err := tpm2.Unmarshal[tpm2.TPMTPublic](req.EKPublic)
			if err != nil {
				t.Fatal(err)
			}
			pub.AuthPolicy = tpm2.TPM2BDigest{Buffer: make([]byte, 32)}
			req.EKPublic = tpm2.Marshal(pub)
		}
		ch, err := v.Enroll(ctx, req, verifier.Pull{})
		if err != nil {
			return err
		}
		act, err := d.agent.Activate(ch)
		if err != nil {
			return err
		}
		_, err = v.Activate(ctx, act)
		return err
	}
	if err := enrol("edge-a", false); err != nil {
		t.Fatal(err)
	}
	if err := enrol("edge-twin", true); err == nil {
		t.Errorf("the TPM of edge-a enrolled and activated as edge-twin too, with its EK public area's authPolicy changed")
	}
	hs, err := s.Hosts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 1 {
		t.Errorf("hosts = %d, want 1: one EK is one host", len(hs))
	}
}
