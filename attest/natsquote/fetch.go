package natsquote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/store"
)

// Fetcher is the verifier's side: it requests evidence from a host's
// agent on the host's quote subject. It implements verifier.Fetcher for
// hosts whose pull URL is URL(host).
type Fetcher struct {
	Conn *nats.Conn
}

// ErrNoAgent: no agent listens on the host's subject (it is offline, or
// the verifier's own connection is down).
var ErrNoAgent = errors.New("no agent answers on NATS")

// Fetch asks h's agent for evidence; ctx bounds the wait.
func (f *Fetcher) Fetch(ctx context.Context, h store.Host, req attest.QuoteRequest) (attest.Evidence, error) {
	if h.PullURL != URL(h.ID) {
		return attest.Evidence{}, fmt.Errorf("host %q: pull URL %q is not %q", h.ID, h.PullURL, URL(h.ID))
	}
	subj := QuoteSubject(h.ID)
	if !f.Conn.IsConnected() {
		// nats.go would buffer the request until it reconnects, and the
		// pull would hold its slot for its whole timeout; meanwhile
		// every NATS host's would, and the other hosts' pulls would wait.
		return attest.Evidence{}, fmt.Errorf("%w: %s: the verifier is not connected to NATS (%v)", ErrNoAgent, subj, f.Conn.Status())
	}
	b, err := json.Marshal(req)
	if err != nil {
		return attest.Evidence{}, err
	}
	m, err := f.Conn.RequestWithContext(ctx, subj, b)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return attest.Evidence{}, fmt.Errorf("%w: %s", ErrNoAgent, subj)
	case err != nil:
		return attest.Evidence{}, fmt.Errorf("requesting %s: %w", subj, err)
	}
	var r Reply
	if err := json.Unmarshal(m.Data, &r); err != nil {
		return attest.Evidence{}, fmt.Errorf("host %q's reply: %w", h.ID, err)
	}
	if r.Error != "" {
		return attest.Evidence{}, fmt.Errorf("host %q answered: %s", h.ID, attest.Clip(r.Error, attest.MaxPeerText))
	}
	if r.Evidence == nil {
		return attest.Evidence{}, fmt.Errorf("host %q answered with neither evidence nor an error", h.ID)
	}
	return *r.Evidence, nil
}
