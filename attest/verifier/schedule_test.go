package verifier_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/appraise"
	"tep.dev/tep/attest/credential"
	"tep.dev/tep/attest/ekcert"
	"tep.dev/tep/attest/simdevice"
	"tep.dev/tep/attest/store"
	"tep.dev/tep/attest/verifier"
)

// simFetcher reaches simulated devices in process, whatever their pull
// URL says; a host in fail
// answers with an error, as an unreachable agent.
type simFetcher struct {
	fleet *simdevice.Fleet
	mu    sync.Mutex
	fail  map[string]bool
}

func (f *simFetcher) Fetch(_ context.Context, h store.Host, req attest.QuoteRequest) (attest.Evidence, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail[h.ID] {
		return attest.Evidence{}, errors.New("unreachable")
	}
	return f.fleet.Lookup(h.ID).Evidence(req)
}

type ekRoots struct{ roots *x509.CertPool }

func (e ekRoots) Check(cert, pub []byte) error {
	_, err := ekcert.Verify(cert, pub, ekcert.Options{Roots: e.roots})
	return err
}

// clock is a settable time for the verifier.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }

// rig is a verifier on SQLite with n simulated pull-mode devices
// enrolled.
type rig struct {
	s     store.Store
	v     *verifier.Verifier
	fetch *simFetcher
	clock *clock
}

func newRig(t *testing.T, replica string, s store.Store, fleet *simdevice.Fleet, clk *clock) *rig {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	roots := x509.NewCertPool()
	roots.AddCert(fleet.CA.Cert)
	ap := appraise.New(appraise.Config{Store: s, Key: key})
	r := &rig{s: s, fetch: &simFetcher{fleet: fleet, fail: map[string]bool{}}, clock: clk}
	r.v = verifier.New(verifier.Config{
		Store: s, EK: ekRoots{roots}, Credential: credential.Make, Appraiser: ap, Policies: ap,
		Fetcher: r.fetch, Replica: replica, Now: clk.Now,
	})
	return r
}

func setup(t *testing.T, n int) (*rig, *simdevice.Fleet) {
	t.Helper()
	fleet, err := simdevice.New(simdevice.Config{Devices: n})
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.OpenSQLite(filepath.Join(t.TempDir(), "v.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	r := newRig(t, "A", s, fleet, &clock{now: time.Now()})
	ctx := context.Background()
	for _, d := range fleet.Devices {
		tok, _, err := r.v.CreateToken(ctx, store.RoleEnroll, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		ch, err := r.v.Enroll(ctx, d.Enroll(tok), verifier.Pull{URL: "https://" + d.HostID + ".sim", Cert: []byte{1}})
		if err != nil {
			t.Fatal(err)
		}
		act, err := d.Activate(ch)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.v.Activate(ctx, act); err != nil {
			t.Fatal(err)
		}
	}
	return r, fleet
}

func reportCount(t *testing.T, s store.Store, host string) int {
	t.Helper()
	rs, err := s.Reports(context.Background(), store.ReportQuery{HostID: host})
	if err != nil {
		t.Fatal(err)
	}
	return len(rs)
}

// TestClaimFence: a host attested after a replica claimed it (here by
// an operator's pull) is not attested again on that claim: the
// scheduled pull ends in ErrConflict and stores nothing.
func TestClaimFence(t *testing.T) {
	r, fleet := setup(t, 1)
	ctx := context.Background()
	host := fleet.Devices[0].HostID
	hs, err := r.s.ClaimDue(ctx, "A", r.clock.Now(), time.Minute, time.Minute, 1)
	if err != nil || len(hs) != 1 {
		t.Fatalf("ClaimDue = %v, %v", hs, err)
	}
	if _, err := r.v.Pull(ctx, host); err != nil {
		t.Fatal(err)
	}
	if _, err := r.v.PullFrom(ctx, hs[0]); !errors.Is(err, verifier.ErrConflict) {
		t.Errorf("scheduled pull after another attestation = %v, want ErrConflict", err)
	}
	if n := reportCount(t, r.s, host); n != 1 {
		t.Errorf("%d reports, want 1", n)
	}
	// On a claim that still holds, the scheduled pull stores its report.
	r.clock.Set(r.clock.Now().Add(time.Minute))
	hs, err = r.s.ClaimDue(ctx, "A", r.clock.Now(), time.Minute, time.Minute, 1)
	if err != nil || len(hs) != 1 {
		t.Fatalf("ClaimDue an interval later = %v, %v", hs, err)
	}
	if _, err := r.v.PullFrom(ctx, hs[0]); err != nil {
		t.Errorf("scheduled pull = %v", err)
	}
	if n := reportCount(t, r.s, host); n != 2 {
		t.Errorf("%d reports, want 2", n)
	}
}

// TestPullRetry: a pull that fails releases its host to be retried a
// quarter interval later, by any replica; one that succeeds releases it
// until it is due again.
func TestPullRetry(t *testing.T) {
	r, fleet := setup(t, 2)
	ctx := context.Background()
	bad, good := fleet.Devices[0].HostID, fleet.Devices[1].HostID
	r.fetch.fail[bad] = true
	const interval = time.Minute
	t0 := r.clock.Now()
	hs, err := r.s.ClaimDue(ctx, "A", t0, interval, time.Hour, 2)
	if err != nil || len(hs) != 2 {
		t.Fatalf("ClaimDue = %v, %v", hs, err)
	}
	for _, h := range hs {
		r.v.PullClaimed(ctx, h, interval, time.Second)
	}
	if reportCount(t, r.s, bad) != 0 || reportCount(t, r.s, good) != 1 {
		t.Fatalf("reports: %d of the failing host, %d of the other; want 0 and 1", reportCount(t, r.s, bad), reportCount(t, r.s, good))
	}
	claim := func(at time.Time) []string {
		t.Helper()
		hs, err := r.s.ClaimDue(ctx, "B", at, interval, time.Second, 5)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, h := range hs {
			ids = append(ids, h.ID)
		}
		return ids
	}
	if ids := claim(t0.Add(interval/4 - time.Millisecond)); len(ids) != 0 {
		t.Errorf("claimed %v before the retry time, want none (the lease of an hour was released)", ids)
	}
	if ids := claim(t0.Add(interval / 4)); len(ids) != 1 || ids[0] != bad {
		t.Errorf("claimed %v at the retry time, want [%s]", ids, bad)
	}
	// Failing again, it waits twice as long, then four times (the
	// interval): a host that never answers cannot take every pull slot.
	at := t0.Add(interval/4 + time.Second) // B's lease of a second has lapsed
	for _, wait := range []time.Duration{interval / 2, interval, interval} {
		r.clock.Set(at)
		hs, err := r.s.ClaimDue(ctx, "A", at, interval, time.Hour, 1)
		if err != nil || len(hs) != 1 || hs[0].ID != bad {
			t.Fatalf("ClaimDue at %v = %v, %v; want %s", at.Sub(t0), hs, err, bad)
		}
		r.v.PullClaimed(ctx, hs[0], interval, time.Second)
		if ids := claim(at.Add(wait - time.Millisecond)); slices.Contains(ids, bad) {
			t.Errorf("claimed %v %v after a failure, want %s only from %v", ids, wait-time.Millisecond, bad, wait)
		}
		at = at.Add(wait)
	}
	// Both due at once: the host that answers goes before the one whose
	// pulls fail, although the latter has never reported.
	at = at.Add(2 * time.Second) // B's leases have lapsed
	r.clock.Set(at)
	hs, err = r.s.ClaimDue(ctx, "A", at, interval, time.Hour, 2)
	if err != nil || len(hs) != 2 {
		t.Fatalf("ClaimDue = %v, %v", hs, err)
	}
	for _, h := range hs {
		r.v.PullClaimed(ctx, h, interval, time.Second)
	}
	at = at.Add(2 * interval)
	hs, err = r.s.ClaimDue(ctx, "A", at, interval, time.Hour, 1)
	if err != nil || len(hs) != 1 || hs[0].ID != good {
		t.Errorf("ClaimDue with both hosts due = %v, %v; want %s first", hostIDs(hs), err, good)
	}
}

func hostIDs(hs []store.Host) []string {
	var ids []string
	for _, h := range hs {
		ids = append(ids, h.ID)
	}
	return ids
}

// TestPullLoopReplicas: two replicas' pull loops on one store attest
// every host, each report an interval or more after the host's last;
// and both do some of the work.
func TestPullLoopReplicas(t *testing.T) {
	r, fleet := setup(t, 6)
	const interval = 300 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var logs [2]countHandler
	for i, name := range []string{"A", "B"} {
		ap := appraise.New(appraise.Config{Store: r.s, Key: mustKey(t)})
		v := verifier.New(verifier.Config{
			Store: r.s, Credential: credential.Make, Appraiser: ap, Policies: ap,
			Fetcher: &simFetcher{fleet: fleet}, Replica: name, Log: slog.New(&logs[i]),
		})
		wg.Go(func() { v.PullLoop(ctx, interval, time.Second, 2) })
	}
	deadline := time.Now().Add(30 * time.Second)
	for done := false; !done; time.Sleep(50 * time.Millisecond) {
		done = true
		for _, d := range fleet.Devices {
			if reportCount(t, r.s, d.HostID) < 3 {
				done = false
			}
		}
		if !done && time.Now().After(deadline) {
			t.Fatal("the replicas did not attest every host three times")
		}
	}
	cancel()
	wg.Wait()
	for _, d := range fleet.Devices {
		rs, _ := r.s.Reports(context.Background(), store.ReportQuery{HostID: d.HostID})
		for i := 0; i+1 < len(rs); i++ { // newest first
			if gap := rs[i].Created.Sub(rs[i+1].Created); gap < interval {
				t.Errorf("%s: reports %v apart, less than the interval", d.HostID, gap)
			}
		}
	}
	for i, name := range []string{"A", "B"} {
		if logs[i].reports.Load() == 0 {
			t.Errorf("replica %s stored no report", name)
		}
	}
}

// countHandler counts the "report" log records.
type countHandler struct{ reports atomic.Int64 }

func (h *countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "report" {
		h.reports.Add(1)
	}
	return nil
}
func (h *countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countHandler) WithGroup(string) slog.Handler      { return h }

func mustKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
