package e2e

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/agentsvc"
	"tep.dev/tep/attest/api"
	"tep.dev/tep/attest/natsquote"
	"tep.dev/tep/attest/report"
	"tep.dev/tep/attest/store"
	"tep.dev/tep/attest/verifier"
)

// TestNATS enrols two swtpm devices in NATS mode and attests them over
// a nats-server with TLS and credentials (agents with an NKey, verifiers
// with a password), from two verifier replicas on one store: trusted;
// two replicas pulling one host at once; a device that answers with
// another host's evidence, refused with nothing stored; an agent that
// comes online, attested at once by one replica of the queue group;
// then the server killed and restarted mid-run, the
// hosts stale while it is down and trusted again once the agents have
// reconnected. The steps share the fleet and run in order.
func TestNATS(t *testing.T) {
	ctx := context.Background()
	ca := filepath.Join(t.TempDir(), "ca")
	a := newDevice(t, "edge-n1", ca, 11, 60)
	b := newDevice(t, "edge-n2", ca, 12, 60)
	a.advance(t, 40)
	b.advance(t, 50)
	f := newFleet(t, ca, nil)
	bus := newNATSBus(t)
	v1, nc1 := bus.replica(t, f, ca)
	v2, nc2 := bus.replica(t, f, ca)

	agentClient := f.client(t, "", nil)
	for _, d := range []*device{a, b} {
		if _, err := agentsvc.Enroll(ctx, d.agent, agentClient, d.id, f.token(t, store.RoleEnroll), natsquote.URL(d.id), nil); err != nil {
			t.Fatalf("enrolling %s in NATS mode: %v", d.id, err)
		}
	}
	agentA := bus.serveNATS(t, a.id, a.agent)
	agentB := bus.serveNATS(t, b.id, b.agent)
	if err := f.admin.Do(ctx, "POST", "/v1/flavor-templates", edgeTemplate(), nil); err != nil {
		t.Fatal(err)
	}
	if err := f.admin.Do(ctx, "POST", "/v1/flavors", imaFlavor(a, b), nil); err != nil {
		t.Fatal(err)
	}
	if fl, err := v1.ImportFlavors(ctx, a.id); err != nil || len(fl) != 2 {
		t.Fatalf("importing flavors from %s over NATS: %d flavors, %v; want 2", a.id, len(fl), err)
	}

	top := t
	t.Run("scheduled as pull-mode hosts", func(t *testing.T) {
		// The store's schedule, which shares pulls among replicas,
		// claims NATS hosts as it claims HTTPS ones.
		hs, err := f.s.ClaimDue(ctx, "replica-1", time.Now(), time.Minute, time.Minute, 10)
		if err != nil || len(hs) != 2 {
			t.Fatalf("ClaimDue = %d hosts, %v; want both NATS hosts", len(hs), err)
		}
		for _, h := range hs {
			if !natsquote.IsURL(h.PullURL) {
				t.Errorf("claimed %s with pull URL %q", h.ID, h.PullURL)
			}
			if err := f.s.Release(ctx, h.ID, "replica-1", time.Time{}); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("trusted", func(t *testing.T) {
		for i, v := range []*verifier.Verifier{v1, v2} {
			for _, d := range []*device{a, b} {
				r, err := v.Pull(ctx, d.id)
				if err != nil {
					t.Fatalf("replica %d pulling %s over NATS: %v", i+1, d.id, err)
				}
				rep, err := report.Verify(r.JWS, f.key.Public())
				if err != nil || !rep.Trusted || !r.Trusted {
					t.Errorf("replica %d, %s: trusted %v, faults %v, %v", i+1, d.id, rep.Trusted, faultNames(rep), err)
				}
				if c, err := v.Contact(ctx, d.id); err != nil || c.Stale() {
					t.Errorf("replica %d, contact of %s = %+v, %v; want not stale", i+1, d.id, c, err)
				}
			}
		}
		b.advance(t, 60)
		r, err := v2.Pull(ctx, b.id)
		if rep, _ := report.Verify(r.JWS, f.key.Public()); err != nil || !rep.Trusted || rep.IMAEntries != 60 {
			t.Errorf("incremental over NATS: trusted %v, %d IMA entries, %v; want trusted, 60", rep.Trusted, rep.IMAEntries, err)
		}
	})

	t.Run("replicas at once", func(t *testing.T) {
		// Both replicas pull one host at the same moment: one report is
		// stored from each state, the other pull gets ErrConflict, and
		// the host is not stale (it was just attested).
		conflicts := 0
		for range 10 {
			errs := make([]error, 2)
			var wg sync.WaitGroup
			for i, v := range []*verifier.Verifier{v1, v2} {
				wg.Go(func() { _, errs[i] = v.Pull(ctx, a.id) })
			}
			wg.Wait()
			for _, err := range errs {
				switch {
				case errors.Is(err, verifier.ErrConflict):
					conflicts++
				case err != nil:
					t.Fatalf("concurrent pull: %v", err)
				}
			}
			if c, err := v1.Contact(ctx, a.id); err != nil || c.Stale() {
				t.Fatalf("after concurrent pulls (%v): contact %+v, %v; want not stale", errs, c, err)
			}
		}
		t.Logf("%d of 20 concurrent pulls lost to the other replica's report", conflicts)
	})

	t.Run("another host's evidence", func(t *testing.T) {
		agentA.stop()
		before := snapshot(t, f.s, a.id, b.id)
		for _, tc := range []struct {
			name  string
			dev   natsquote.Device
			fault string
		}{
			// B's device answers on A's subject with its own evidence.
			{"as itself", b.agent, attest.FaultEvidenceHost},
			// ... or claims to be A: B's AK did not sign for A.
			{"as the host asked", relabel{b.agent, a.id}, ""},
		} {
			rogue := bus.serveNATS(t, a.id, tc.dev)
			_, err := v1.Pull(ctx, a.id)
			rogue.stop()
			var fe *verifier.FaultError
			if !errors.As(err, &fe) || (tc.fault != "" && fe.Fault.Name != tc.fault) {
				t.Errorf("%s: Pull(%s) = %v, want a refusal with fault %q", tc.name, a.id, err, tc.fault)
			}
			if after := snapshot(t, f.s, a.id, b.id); after != before {
				t.Errorf("%s: stored %+v, before %+v; want nothing stored for either host", tc.name, after, before)
			}
			if c, err := v1.Contact(ctx, a.id); err != nil || !c.Stale() {
				t.Errorf("%s: contact of %s = %+v, %v; want stale", tc.name, a.id, c, err)
			}
		}
		// The agent outlives this step: the parent test owns it.
		agentA = bus.serveNATS(top, a.id, a.agent)
		if r, err := v1.Pull(ctx, a.id); err != nil || !r.Trusted {
			t.Fatalf("%s's own agent back: trusted %v, %v", a.id, r.Trusted, err)
		}
	})

	t.Run("announced", func(t *testing.T) {
		// The replicas in the queue group attest an agent that comes
		// online at once, with no schedule running.
		lctx, stopListen := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for _, r := range []struct {
			v  *verifier.Verifier
			nc *nats.Conn
		}{{v1, nc1}, {v2, nc2}} {
			subs := r.nc.NumSubscriptions()
			wg.Go(func() {
				natsquote.Listen(lctx, r.nc, 0, 0, func(ctx context.Context, id string) { r.v.Pull(ctx, id) }, nil)
			})
			waitUntil(t, "a replica in the queue group", func() bool { return r.nc.NumSubscriptions() > subs && r.nc.Flush() == nil })
		}
		defer func() { stopListen(); wg.Wait() }()
		before := reportsOf(t, f.s, b.id)
		agentB.stop()
		agentB.nc.Close()
		agentB = bus.serveNATS(top, b.id, b.agent)
		waitUntil(t, b.id+" attested on its announcement", func() bool { return reportsOf(t, f.s, b.id) > before })
		if c, err := v1.Contact(ctx, b.id); err != nil || c.Stale() {
			t.Errorf("contact of %s after its announcement = %+v, %v; want not stale", b.id, c, err)
		}
	})

	t.Run("server restarted", func(t *testing.T) {
		natsRestart(t, f, bus, v1, []*device{a, b}, []*natsAgent{agentA, agentB})
	})
}

// hostsState is what the store holds for a pair of hosts.
type hostsState struct {
	reports [2]int
	last    [2]string
	state   [2]string
}

func snapshot(t *testing.T, s store.Store, ids ...string) hostsState {
	t.Helper()
	var st hostsState
	for i, id := range ids {
		h, err := s.Host(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		st.reports[i], st.last[i], st.state[i] = reportsOf(t, s, id), h.LastReport, string(h.State)
	}
	return st
}

// natsRestart runs v's pull loop, kills the NATS server and waits until
// every host is stale, with no untrusted report made; then restarts the
// server on its port and waits until each agent has reconnected and
// each host has a new trusted report.
func natsRestart(t *testing.T, f *fleet, bus *natsBus, v *verifier.Verifier, devs []*device, agents []*natsAgent) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { v.PullLoop(ctx, 200*time.Millisecond, 2*time.Second, 0) })
	defer func() { cancel(); wg.Wait() }()

	contact := func(id string) store.Contact {
		c, err := v.Contact(context.Background(), id)
		if err != nil && !errors.Is(err, verifier.ErrNotFound) {
			t.Fatal(err)
		}
		return c
	}
	for _, d := range devs {
		n := reportsOf(t, f.s, d.id)
		waitUntil(t, d.id+" attested by the pull loop", func() bool { return reportsOf(t, f.s, d.id) > n })
	}
	if err := syscall.Kill(bus.srv.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		waitUntil(t, d.id+" stale while NATS is down", func() bool { return contact(d.id).Stale() })
	}
	down := make([]int, len(devs))
	for i, d := range devs {
		down[i] = reportsOf(t, f.s, d.id)
		var h api.Host
		if err := f.auditor.Do(context.Background(), "GET", "/v1/hosts/"+d.id, nil, &h); err != nil || h.Contact == nil || !h.Contact.Stale {
			t.Errorf("GET /v1/hosts/%s while NATS is down: contact %+v, %v; want stale", d.id, h.Contact, err)
		}
		if c := contact(d.id); c.LastError == "" || c.LastReport.IsZero() {
			t.Errorf("%s while NATS is down: contact %+v, want a failure after a report", d.id, c)
		}
	}
	if err := bus.srv.Restart(); err != nil {
		t.Fatal(err)
	}
	for i, d := range devs {
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("%s: contact %+v, agent connected %v, reconnects %d", d.id, contact(d.id), agents[i].nc.IsConnected(), agents[i].nc.Stats().Reconnects)
			}
		})
		waitUntil(t, d.id+" attested again after the restart", func() bool {
			return !contact(d.id).Stale() && reportsOf(t, f.s, d.id) > down[i]
		})
		var h api.Host
		if err := f.auditor.Do(context.Background(), "GET", "/v1/hosts/"+d.id, nil, &h); err != nil || h.Contact == nil || h.Contact.Stale {
			t.Errorf("GET /v1/hosts/%s after the restart: contact %+v, %v; want not stale", d.id, h.Contact, err)
		}
		if n := agents[i].nc.Stats().Reconnects; n < 1 {
			t.Errorf("agent of %s: %d reconnections, want at least 1", d.id, n)
		}
	}
	cancel()
	wg.Wait()
	// Stale is not untrusted: every report made is trusted.
	for _, d := range devs {
		var rs []api.Report
		if err := f.auditor.Do(context.Background(), "GET", "/v1/reports?host="+d.id, nil, &rs); err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if !r.Trusted {
				rep, _ := report.Verify(r.JWS, f.key.Public())
				t.Errorf("%s: report %s untrusted, faults %s", d.id, r.ID, strings.Join(faultNames(rep), ","))
			}
		}
	}
}
