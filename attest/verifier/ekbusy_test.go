package verifier_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"tep.dev/tep/attest/store"
	"tep.dev/tep/attest/verifier"
)

// TestEKBusy: an EK that enrolled MaxRecentEnrollments times within an
// enrolment's lifetime is refused another, under any host id, before
// any costly check and without a row stored (the red team's flood from
// one allow-listed EK); once they are older than that, it enrols again.
func TestEKBusy(t *testing.T) {
	r, fleet := setup(t, 1) // one enrolment already
	ctx := context.Background()
	d := fleet.Devices[0]
	enrol := func(host string) error {
		tok, _, err := r.v.CreateToken(ctx, store.RoleEnroll, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		req := d.Enroll(tok)
		req.HostID = host
		_, err = r.v.Enroll(ctx, req, verifier.Pull{URL: "https://" + host + ".sim", Cert: []byte{1}})
		return err
	}
	for i := 1; i < verifier.MaxRecentEnrollments; i++ {
		if err := enrol(d.HostID); err != nil {
			t.Fatalf("enrolment %d: %v", i+1, err)
		}
	}
	for _, host := range []string{d.HostID, "fresh-host"} {
		if err := enrol(host); !errors.Is(err, verifier.ErrConflict) {
			t.Errorf("enrolment %d as %s: %v, want ErrConflict", verifier.MaxRecentEnrollments+1, host, err)
		}
	}
	if es, err := r.s.PendingEnrollments(ctx, "fresh-host", r.clock.Now()); err != nil || len(es) != 0 {
		t.Errorf("the refused enrolment stored %d rows (%v), want none", len(es), err)
	}
	r.clock.Set(r.clock.Now().Add(verifier.DefaultEnrollTTL + time.Second))
	if err := enrol(d.HostID); err != nil {
		t.Errorf("an enrolment after the others' lifetime: %v", err)
	}
}
