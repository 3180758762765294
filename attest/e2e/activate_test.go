package e2e

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/credential"
	"tep.dev/tep/attest/store"
	"tep.dev/tep/attest/verifier"
	"tep.dev/tep/internal/swtpm"
)

// TestActivationRefused: an activation with the wrong secret, after the
// challenge expired, or a second time, binds no AK.
func TestActivationRefused(t *testing.T) {
	ctx := context.Background()
	ca := filepath.Join(t.TempDir(), "ca")
	d := newDevice(t, "edge-c", ca, 4, 1)
	s, err := store.OpenSQLite(filepath.Join(t.TempDir(), "v.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	v := verifier.New(verifier.Config{
		Store: s, EK: ekChecker{certPool(t, swtpm.RootCert(ca)), certPool(t, swtpm.IssuerCert(ca))},
		Credential: credential.Make, Now: func() time.Time { return now },
	})
	enrol := func() attest.Challenge {
		t.Helper()
		tok, _, err := v.CreateToken(ctx, store.RoleEnroll, 0)
		if err != nil {
			t.Fatal(err)
		}
		req, err := d.agent.Enroll(d.id, tok)
		if err != nil {
			t.Fatal(err)
		}
		ch, err := v.Enroll(ctx, req, verifier.Pull{})
		if err != nil {
			t.Fatal(err)
		}
		return ch
	}

	ch := enrol()
	act, err := d.agent.Activate(ch)
	if err != nil {
		t.Fatal(err)
	}
	wrong := attest.Activation{EnrollmentID: act.EnrollmentID, Secret: append([]byte(nil), act.Secret...)}
	wrong.Secret[0] ^= 1
	var fe *verifier.FaultError
	if _, err := v.Activate(ctx, wrong); !errors.As(err, &fe) || fe.Fault.Name != attest.FaultAKNotActivated {
		t.Errorf("Activate(wrong secret) = %v, want %s", err, attest.FaultAKNotActivated)
	}
	if _, err := s.Host(ctx, d.id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a host exists after a wrong secret: %v", err)
	}
	if _, err := v.Activate(ctx, act); err != nil {
		t.Fatalf("Activate = %v", err)
	}
	if _, err := v.Activate(ctx, act); !errors.Is(err, verifier.ErrExpired) {
		t.Errorf("second Activate = %v, want ErrExpired", err)
	}

	ch = enrol()
	act, err = d.agent.Activate(ch)
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(verifier.DefaultEnrollTTL)
	if _, err := v.Activate(ctx, act); !errors.Is(err, verifier.ErrExpired) {
		t.Errorf("Activate after expiry = %v, want ErrExpired", err)
	}
	h, err := s.Host(ctx, d.id)
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := s.Enrollment(ctx, ch.EnrollmentID); string(h.AKName) == string(e.AKName) {
		t.Error("the expired enrolment's AK was bound")
	}
}
