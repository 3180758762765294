package verifier

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"time"

	"tep.dev/tep/attest/store"
)

// Scheduling bounds.
const (
	// defaultParallel is PullLoop's parallel when it is not positive.
	defaultParallel = 8
	// maxPoll and minPoll bound how often PullLoop asks the store for
	// due hosts when none of its pulls ends sooner.
	maxPoll = time.Second
	minPoll = 20 * time.Millisecond
	// releaseTimeout bounds a claim's release, which runs even when the
	// loop's context has ended.
	releaseTimeout = 5 * time.Second
)

// Lease is how long a replica's claim on a host lasts for pulls bounded
// by timeout: the pull ends (its context does) before the lease does,
// so that a live replica never works on a host another has taken.
func Lease(timeout time.Duration) time.Duration { return timeout + timeout/2 }

// DefaultReplica names this process among the replicas sharing a
// database: host name, process id and a random part, so that a replica
// that restarts never mistakes its dead self's claims for its own.
func DefaultReplica() string {
	h, _ := os.Hostname()
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", h, os.Getpid(), hex.EncodeToString(b))
}

// PullLoop attests the pull-mode hosts on a schedule until ctx ends:
// each once an interval, at most parallel at a time, each pull bounded
// by timeout. Replicas on one database share the hosts (store
// Scheduler): a replica claims a host only when it has a free slot, so
// idle replicas take the work; a claim lasts Lease(timeout), so the
// hosts of a replica that dies are taken by another once its leases
// lapse. A failed pull is retried a quarter interval later; a host's
// failure or silence holds up no other. When ctx ends, pulls in flight
// are cut and their hosts released for other replicas at once.
func (v *Verifier) PullLoop(ctx context.Context, interval, timeout time.Duration, parallel int) {
	if parallel <= 0 {
		parallel = defaultParallel
	}
	poll := min(max(interval/10, minPoll), maxPoll)
	lease := Lease(timeout)
	done := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	defer func() {
		wg.Wait()
		// A claim that ClaimDue committed as ctx ended has no pull.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
		defer cancel()
		if err := v.cfg.Store.ReleaseAll(rctx, v.cfg.Replica); err != nil {
			v.cfg.Log.Warn("pull: releasing this replica's claims", "err", err)
		}
	}()
	inflight := 0
	wait := time.NewTimer(0)
	defer wait.Stop()
	for {
		if free := parallel - inflight; free > 0 {
			hosts, err := v.cfg.Store.ClaimDue(ctx, v.cfg.Replica, v.cfg.Now(), interval, lease, free)
			if err != nil && ctx.Err() == nil {
				v.cfg.Log.Error("pull: claiming due hosts", "err", err)
			}
			for _, h := range hosts {
				inflight++
				wg.Go(func() {
					v.pullClaimed(ctx, h, interval, timeout)
					done <- struct{}{}
				})
			}
		}
		wait.Reset(poll)
		select {
		case <-ctx.Done():
			return
		case <-done:
			inflight--
		case <-wait.C:
		}
	}
}

// retryAfter is how long a host whose pull failed waits for the next:
// a quarter of the interval after its first failure, doubling with each
// one after that, up to the interval. A host that never answers holds a
// pull slot for the whole pull timeout at every try; retried often,
// a few of them would take every slot from the hosts that answer.
func (v *Verifier) retryAfter(ctx context.Context, hostID string, interval time.Duration) time.Duration {
	failures := 1
	if cb, ok := v.cfg.Store.(ContactBook); ok {
		if c, err := cb.Contact(ctx, hostID); err == nil {
			failures = max(c.Failures, 1)
		}
	}
	return min(interval/4<<min(failures-1, 2), interval)
}

// pullClaimed pulls one claimed host and releases it.
func (v *Verifier) pullClaimed(ctx context.Context, h store.Host, interval, timeout time.Duration) {
	pctx, cancel := context.WithTimeout(ctx, timeout)
	_, err := v.pull(pctx, h)
	cancel()
	var retry time.Time
	if err != nil {
		v.cfg.Log.Warn("pull failed", "host", h.ID, "err", err)
		if ctx.Err() == nil {
			retry = v.cfg.Now().Add(v.retryAfter(ctx, h.ID, interval))
		}
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	if err := v.cfg.Store.Release(rctx, h.ID, v.cfg.Replica, retry); err != nil {
		// The lease lapsed and another replica took the host, or the
		// database is away: the lease ends the claim either way.
		v.cfg.Log.Warn("pull: releasing host", "host", h.ID, "err", err)
	}
}
