package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// pullHost enrols and activates a pull-mode host.
func pullHost(t *testing.T, s Store, id string) {
	t.Helper()
	err := s.CreateEnrollment(context.Background(), Enrollment{
		ID: "e-" + id, HostID: id, EKHash: "ek-" + id, EKPublic: []byte("ek"), AKPublic: []byte("ak"), AKName: []byte("name-" + id),
		SecretHash: []byte{1}, PullURL: "https://" + id, PullCert: []byte{1}, Created: t0, Expires: t0.Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Activate(context.Background(), "e-"+id, t0); err != nil {
		t.Fatal(err)
	}
}

func claimIDs(t *testing.T, s Store, owner string, now time.Time, n int) []string {
	t.Helper()
	hs, err := s.ClaimDue(context.Background(), owner, now, time.Minute, 10*time.Second, n)
	if err != nil {
		t.Fatalf("ClaimDue(%s) = %v", owner, err)
	}
	var ids []string
	for _, h := range hs {
		ids = append(ids, h.ID)
	}
	return ids
}

// TestClaim: due hosts are claimed once until the lease lapses or the
// claim is released; a report makes a host due an interval later; push
// hosts and unactivated hosts are never claimed.
func TestClaim(t *testing.T) {
	backends(t, func(t *testing.T, db *testDB) {
		s, ctx := db.s, context.Background()
		pullHost(t, s, "h1")
		pullHost(t, s, "h2")
		enrol(t, s, "e-push", "push", "ek-push", t0.Add(time.Hour)) // no pull URL
		if _, err := s.Activate(ctx, "e-push", t0); err != nil {
			t.Fatal(err)
		}
		enrol(t, s, "e-idle", "idle", "ek-idle", t0.Add(time.Hour)) // never activated
		if got := claimIDs(t, s, "A", t0, 1); !slices.Equal(got, []string{"h1"}) {
			t.Fatalf("A claims %v, want [h1]", got)
		}
		if got := claimIDs(t, s, "B", t0, 5); !slices.Equal(got, []string{"h2"}) {
			t.Fatalf("B claims %v, want [h2] (h1 is A's)", got)
		}
		if got := claimIDs(t, s, "C", t0.Add(9*time.Second), 5); len(got) != 0 {
			t.Errorf("C claims %v within the leases, want none", got)
		}
		// A's lease lapses (A died): C takes h1; B's lapses too.
		if got := claimIDs(t, s, "C", t0.Add(10*time.Second), 5); !slices.Equal(got, []string{"h1", "h2"}) {
			t.Errorf("C claims %v after the leases, want [h1 h2]", got)
		}
		if err := s.Release(ctx, "h1", "A", time.Time{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("A releases a host C took = %v, want ErrNotFound", err)
		}
		// C reports on h1 and releases it: due again an interval later.
		now := t0.Add(11 * time.Second)
		h, _ := s.Host(ctx, "h1")
		if err := s.AddReport(ctx, Report{ID: "r1", HostID: "h1", Created: now, Body: []byte(`{}`)}, h.State, []byte(`{"n":1}`)); err != nil {
			t.Fatal(err)
		}
		if err := s.Release(ctx, "h1", "C", time.Time{}); err != nil {
			t.Fatal(err)
		}
		// C failed on h2 and releases it to be retried no sooner than 5 s on.
		if err := s.Release(ctx, "h2", "C", now.Add(5*time.Second)); err != nil {
			t.Fatal(err)
		}
		if got := claimIDs(t, s, "D", now.Add(time.Second), 5); len(got) != 0 {
			t.Errorf("D claims %v before the retry time, want none", got)
		}
		if got := claimIDs(t, s, "D", now.Add(5*time.Second), 5); !slices.Equal(got, []string{"h2"}) {
			t.Errorf("D claims %v at the retry time, want [h2] (h1 reported)", got)
		}
		// An interval after h1's report, h1 is due again; so is h2, whose
		// lease from D's claim lapsed unreleased. h1, released after an
		// answer, goes first: a host whose pull failed, or whose claim ran
		// out, waits behind the hosts that answer, however long ago it
		// last reported (a few hosts that never answer must not hold every
		// pull slot).
		if got := claimIDs(t, s, "E", now.Add(time.Minute), 5); !slices.Equal(got, []string{"h1", "h2"}) {
			t.Errorf("E claims %v an interval after h1's report, want [h1 h2]", got)
		}
		if hs, err := s.ClaimDue(ctx, "D", now, time.Minute, time.Second, 0); err != nil || len(hs) != 0 {
			t.Errorf("ClaimDue(n=0) = %v, %v", hs, err)
		}
		if err := s.Release(ctx, "nope", "D", time.Time{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("Release(unknown host) = %v, want ErrNotFound", err)
		}
	})
}

// TestClaimConcurrent: replicas claiming at once each get their own
// hosts, and all of them are claimed.
func TestClaimConcurrent(t *testing.T) {
	backends(t, func(t *testing.T, db *testDB) {
		const hosts, replicas = 40, 4
		for i := range hosts {
			pullHost(t, db.s, fmt.Sprintf("h%02d", i))
		}
		stores := db.stores(t, replicas)
		var mu sync.Mutex
		owner := map[string]string{}
		var wg sync.WaitGroup
		for r, s := range stores {
			wg.Go(func() {
				name := fmt.Sprint("replica-", r)
				for {
					hs, err := s.ClaimDue(context.Background(), name, t0, time.Minute, time.Minute, 3)
					if err != nil {
						t.Errorf("%s: %v", name, err)
						return
					}
					if len(hs) == 0 {
						return
					}
					mu.Lock()
					for _, h := range hs {
						if o, ok := owner[h.ID]; ok {
							t.Errorf("%s claimed %s, which %s holds", name, h.ID, o)
						}
						owner[h.ID] = name
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(owner) != hosts {
			t.Errorf("%d hosts claimed, want %d", len(owner), hosts)
		}
	})
}

// TestConcurrentWrites: of several activations of one enrolment, or
// reports built on one state, made at once through separate
// connections (as by replicas), exactly one succeeds.
func TestConcurrentWrites(t *testing.T) {
	backends(t, func(t *testing.T, db *testDB) {
		const n = 6
		ctx := context.Background()
		enrol(t, db.s, "e1", "h1", "ekA", t0.Add(time.Minute))
		stores := db.stores(t, n)
		race := func(what string, fn func(i int, s Store) error, want error) {
			t.Helper()
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i, s := range stores {
				wg.Go(func() { errs[i] = fn(i, s) })
			}
			wg.Wait()
			ok := 0
			for _, err := range errs {
				if err == nil {
					ok++
				} else if !errors.Is(err, want) {
					t.Errorf("%s: %v, want %v", what, err, want)
				}
			}
			if ok != 1 {
				t.Errorf("%s: %d of %d succeeded, want 1", what, ok, n)
			}
		}
		race("Activate", func(_ int, s Store) error { _, err := s.Activate(ctx, "e1", t0); return err }, ErrUsed)
		// Again on the host the first round made, a few times: the
		// calls must overlap for the test to mean anything.
		for round := range 8 {
			id := fmt.Sprint("again-", round)
			enrol(t, db.s, id, "h1", "ekA", t0.Add(time.Minute))
			race("Activate "+id, func(_ int, s Store) error { _, err := s.Activate(ctx, id, t0); return err }, ErrUsed)
		}
		race("AddReport", func(i int, s Store) error {
			r := Report{ID: fmt.Sprint("r", i), HostID: "h1", Created: t0, Body: []byte(`{}`)}
			return s.AddReport(ctx, r, nil, []byte(fmt.Sprintf(`{"n":%d}`, i)))
		}, ErrConflict)
		if rs, err := db.s.Reports(ctx, ReportQuery{HostID: "h1"}); err != nil || len(rs) != 1 {
			t.Errorf("reports stored: %d, %v; want 1", len(rs), err)
		}
		nonce := []byte("n")
		if err := db.s.AddNonce(ctx, "h1", nonce, t0, t0.Add(time.Minute), 4); err != nil {
			t.Fatal(err)
		}
		race("UseNonce", func(_ int, s Store) error { return s.UseNonce(ctx, "h1", nonce, t0) }, ErrUsed)
	})
}

// TestConcurrentCleanup: replicas spending nonces, adding a host's
// nonces and adding enrolments at once, each call also dropping the
// expired (or surplus) rows that the others drop, never fail (no
// deadlock between their deletes).
func TestConcurrentCleanup(t *testing.T) {
	backends(t, func(t *testing.T, db *testDB) {
		const replicas, calls = 4, 40
		ctx := context.Background()
		stores := db.stores(t, replicas)
		for i := range replicas * calls {
			// Each spend at step i finds the nonces of earlier steps expired.
			at := t0.Add(time.Duration(i) * time.Second)
			if err := db.s.AddNonce(ctx, fmt.Sprint("h", i%replicas), []byte(fmt.Sprint("n", i)), at, at.Add(time.Second/2+time.Duration(i%replicas)*time.Second), 1000); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		for r, s := range stores {
			wg.Go(func() {
				for c := range calls {
					i := c*replicas + r
					at := t0.Add(time.Duration(i) * time.Second)
					if err := s.UseNonce(ctx, fmt.Sprint("h", i%replicas), []byte(fmt.Sprint("n", i)), at); err != nil && !errors.Is(err, ErrUsed) {
						t.Errorf("replica %d: UseNonce: %v", r, err)
					}
					if err := s.AddNonce(ctx, "shared", []byte(fmt.Sprint("s", i)), at, at.Add(time.Hour), 2); err != nil {
						t.Errorf("replica %d: AddNonce: %v", r, err)
					}
					e := Enrollment{ID: fmt.Sprint("e", i), HostID: "h", EKHash: "ek", SecretHash: []byte{1}, Created: at, Expires: at.Add(time.Duration(r) * time.Second)}
					if err := s.CreateEnrollment(ctx, e); err != nil {
						t.Errorf("replica %d: CreateEnrollment: %v", r, err)
					}
				}
			})
		}
		wg.Wait()
	})
}

// TestReleaseAll: a stopping replica's claims all end, and only its own.
func TestReleaseAll(t *testing.T) {
	backends(t, func(t *testing.T, db *testDB) {
		s, ctx := db.s, context.Background()
		for _, id := range []string{"h1", "h2", "h3"} {
			pullHost(t, s, id)
		}
		if got := claimIDs(t, s, "A", t0, 2); len(got) != 2 {
			t.Fatalf("A claims %v, want two hosts", got)
		}
		if got := claimIDs(t, s, "B", t0, 5); len(got) != 1 {
			t.Fatalf("B claims %v, want the third", got)
		}
		if err := s.ReleaseAll(ctx, "A"); err != nil {
			t.Fatal(err)
		}
		if got := claimIDs(t, s, "C", t0.Add(time.Second), 5); len(got) != 2 {
			t.Errorf("C claims %v after A released all, want A's two (B's still held)", got)
		}
	})
}
