package natsquote

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Queue is the queue group of verifier replicas: each announcement is
// delivered to one member.
const Queue = "tep-verifier"

// DefaultQuiet is how long a replica ignores a host's announcements after
// acting on one, unless Listen is told otherwise.
const DefaultQuiet = 10 * time.Second

// OnlinePrefix begins the subjects on which agents announce themselves.
// It is not under Prefix: a verifier subscribed there would count as a
// responder to quote requests, and a request to an absent agent would
// time out instead of failing at once.
const OnlinePrefix = "trust-agent-online."

// OnlineSubject is where host hostID's agent announces that it is
// (again) connected, so that a verifier attests it at once rather than
// at its next scheduled pull.
func OnlineSubject(hostID string) string { return OnlinePrefix + hostID }

// hostOf returns the host id of an online subject, "" for another.
func hostOf(subject string) string {
	id, _ := strings.CutPrefix(subject, OnlinePrefix)
	if id == subject {
		return ""
	}
	return id
}

// announce publishes hostID's announcement; a failure is only logged:
// the verifier's schedule reaches the agent anyway.
func announce(nc *nats.Conn, hostID string, log *slog.Logger) {
	if err := nc.Publish(OnlineSubject(hostID), nil); err != nil {
		log.Warn("announcing on NATS", "err", err)
	}
}

// Listen joins the verifiers' queue group on every host's announcements
// until ctx ends, and calls attest(hostID) for each, at most parallel at
// a time; a host announced again within quiet of the last call for it
// on this replica is ignored, so that no one makes the verifier pull a
// host in a loop. attest gets a context that ends with ctx.
// Announcements are not stored: one sent while no replica listens is
// lost, and the schedule attests the host later.
func Listen(ctx context.Context, nc *nats.Conn, quiet time.Duration, parallel int, attest func(ctx context.Context, hostID string), log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if quiet <= 0 {
		quiet = DefaultQuiet
	}
	if parallel <= 0 {
		parallel = 4
	}
	var mu sync.Mutex // guards last and closed
	last := map[string]time.Time{}
	closed := false
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	sub, err := nc.QueueSubscribe(OnlinePrefix+">", Queue, func(m *nats.Msg) {
		id := hostOf(m.Subject)
		if id == "" {
			return
		}
		log.Debug("announcement", "host", id)
		now := time.Now()
		mu.Lock()
		if t, ok := last[id]; ok && now.Sub(t) < quiet {
			mu.Unlock()
			return
		}
		last[id] = now
		for h, t := range last {
			if now.Sub(t) >= quiet {
				delete(last, h)
			}
		}
		mu.Unlock()
		// Waiting here holds up this subscription's next messages, which
		// nats.go keeps (up to its pending limits) meanwhile.
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		// nats.go may still run this callback after Unsubscribe: once
		// Listen is waiting for its attestations, start no other.
		mu.Lock()
		defer mu.Unlock()
		if closed {
			<-sem
			return
		}
		wg.Go(func() {
			defer func() { <-sem }()
			attest(ctx, id)
		})
	})
	if err != nil {
		return fmt.Errorf("joining queue group %s: %w", Queue, err)
	}
	log.Info("attesting agents as they announce themselves", "subject", sub.Subject, "queue", Queue)
	<-ctx.Done()
	sub.Unsubscribe()
	mu.Lock()
	closed = true
	mu.Unlock()
	wg.Wait()
	return nil
}
