package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestContact(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	if _, err := s.Contact(ctx, "h1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Contact(never pulled) = %v, want ErrNotFound", err)
	}
	t1, t2, t3 := t0.Add(time.Minute), t0.Add(2*time.Minute), t0.Add(3*time.Minute)
	steps := []struct {
		at      time.Time
		failure string
		want    Contact
	}{
		{t0, "no agent", Contact{HostID: "h1", FailingSince: t0, Failures: 1, LastError: "no agent", Updated: t0}},
		{t1, "timeout", Contact{HostID: "h1", FailingSince: t0, Failures: 2, LastError: "timeout", Updated: t1}},
		{t2, "", Contact{HostID: "h1", LastReport: t2, Updated: t2}},
		{t3, "refused", Contact{HostID: "h1", LastReport: t2, FailingSince: t3, Failures: 1, LastError: "refused", Updated: t3}},
	}
	for i, st := range steps {
		if err := s.RecordContact(ctx, "h1", st.at, st.failure); err != nil {
			t.Fatal(err)
		}
		got, err := s.Contact(ctx, "h1")
		if err != nil || got != st.want {
			t.Errorf("step %d: Contact = %+v, %v; want %+v", i, got, err, st.want)
		}
		if got.Stale() != (st.failure != "") {
			t.Errorf("step %d: Stale() = %v after failure %q", i, got.Stale(), st.failure)
		}
	}
	if err := s.RecordContact(ctx, "h2", t0, strings.Repeat("x", 2*maxContactError)); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Contact(ctx, "h2"); len(c.LastError) != maxContactError {
		t.Errorf("a long failure kept %d bytes, want %d", len(c.LastError), maxContactError)
	}
}

// TestContactDeleted: a deleted host's record goes with it, so a host
// enrolled again under its name does not start stale.
func TestContactDeleted(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	enrol(t, s, "e1", "h1", "ekA", t0.Add(time.Minute))
	if _, err := s.Activate(ctx, "e1", t0); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordContact(ctx, "h1", t0, "no agent"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteHost(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	if c, err := s.Contact(ctx, "h1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Contact after DeleteHost = %+v, %v; want ErrNotFound", c, err)
	}
}
