package verifier_test

import (
	"context"
	"errors"
	"testing"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/verifier"
)

// TestStaleEvidenceRefused: two challenges for one host, X then Y, both
// quoted in that order; Y's evidence is stored first. X's quote is older
// than Y's report: appraised against Y's state its clock would go back
// and the host would be stored untrusted (the red team's finding). The
// stored report spends X's nonce, so X is refused and nothing more is
// stored.
func TestStaleEvidenceRefused(t *testing.T) {
	r, fleet := setup(t, 1)
	ctx := context.Background()
	d := fleet.Devices[0]
	var ev [2]attest.Evidence
	for i := range ev {
		req, err := r.v.Challenge(ctx, d.HostID)
		if err != nil {
			t.Fatal(err)
		}
		if ev[i], err = d.Evidence(req); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := r.v.Attest(ctx, ev[1])
	if err != nil || !rep.Trusted && len(rep.Body) == 0 {
		t.Fatalf("Y: %v", err)
	}
	_, err = r.v.Attest(ctx, ev[0])
	var fe *verifier.FaultError
	if !errors.As(err, &fe) || fe.Fault.Name != attest.FaultQuoteNonce {
		t.Errorf("X after Y was stored: %v, want %s", err, attest.FaultQuoteNonce)
	}
	if n := reportCount(t, r.s, d.HostID); n != 1 {
		t.Errorf("%d reports stored, want 1 (Y's)", n)
	}
	// The host's next challenge is served as usual.
	req, err := r.v.Challenge(ctx, d.HostID)
	if err != nil {
		t.Fatal(err)
	}
	next, err := d.Evidence(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.v.Attest(ctx, next); err != nil {
		t.Errorf("the next evidence: %v", err)
	}
}
