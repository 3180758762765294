package store

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// contactBook is what the verifier asks of a store that keeps contacts.
type contactBook interface {
	RecordContact(ctx context.Context, hostID string, now time.Time, failure string) error
	Contact(ctx context.Context, hostID string) (Contact, error)
}

func TestContact(t *testing.T) {
	backends(t, testContact)
}

func testContact(t *testing.T, db *testDB) {
	s := db.s.(contactBook)
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
	if c, _ := s.Contact(ctx, "h2"); len(c.LastError) != maxContactError+len("…") {
		t.Errorf("a long failure kept %d bytes, want %d and an ellipsis", len(c.LastError), maxContactError)
	}
	// An agent's text with a NUL and bytes that are not UTF-8 (PostgreSQL
	// refuses both in TEXT): the failure is recorded all the same.
	if err := s.RecordContact(ctx, "h3", t0, "quote\x00failed \xff"); err != nil {
		t.Errorf("recording a failure with a NUL and bad UTF-8: %v", err)
	}
	if c, err := s.Contact(ctx, "h3"); err != nil || c.Failures != 1 || c.LastError != "quote\uFFFDfailed \uFFFD" {
		t.Errorf("Contact(h3) = %+v, %v", c, err)
	}
}

// TestContactDeleted: a deleted host's record goes with it, so a host
// enrolled again under its name does not start stale.
func TestContactDeleted(t *testing.T) {
	backends(t, testContactDeleted)
}

func testContactDeleted(t *testing.T, db *testDB) {
	s, cb := db.s, db.s.(contactBook)
	ctx := context.Background()
	enrol(t, s, "e1", "h1", "ekA", t0.Add(time.Minute))
	if _, err := s.Activate(ctx, "e1", t0); err != nil {
		t.Fatal(err)
	}
	if err := cb.RecordContact(ctx, "h1", t0, "no agent"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteHost(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	if c, err := cb.Contact(ctx, "h1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Contact after DeleteHost = %+v, %v; want ErrNotFound", c, err)
	}
}

// TestContactConcurrent: replicas recording one host at once all land,
// as failures counted once each.
func TestContactConcurrent(t *testing.T) {
	backends(t, func(t *testing.T, db *testDB) {
		s := db.s.(contactBook)
		ctx := context.Background()
		const n = 16
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() { errs <- s.RecordContact(ctx, "h1", t0.Add(time.Duration(i)*time.Second), "timeout") })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if c, err := s.Contact(ctx, "h1"); err != nil || c.Failures != n || !c.Stale() {
			t.Errorf("after %d concurrent failures: %+v, %v", n, c, err)
		}
	})
}
