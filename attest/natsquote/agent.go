package natsquote

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"tep.dev/tep/attest"
)

// MaxRequest bounds a quote request's size.
const MaxRequest = 4 << 10

// Device quotes, as attest/agent's Agent does.
type Device interface {
	Quote(attest.QuoteRequest) (attest.Evidence, error)
}

// Reply is the agent's answer to a quote request: the evidence, or why
// there is none.
type Reply struct {
	Evidence *attest.Evidence `json:"evidence,omitempty"`
	Error    string           `json:"error,omitempty"`
}

// Serve answers quote requests for hostID on nc until ctx ends, then
// drains the subscription and returns once a quote in progress has been
// answered. It returns an error only if it cannot subscribe.
func Serve(ctx context.Context, nc *nats.Conn, hostID string, d Device, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sub, err := nc.Subscribe(QuoteSubject(hostID), func(m *nats.Msg) {
		r := answer(d, m.Data, log)
		b, err := json.Marshal(r)
		if err == nil && len(b) > int(nc.MaxPayload()) {
			b, _ = json.Marshal(Reply{Error: fmt.Sprintf("the evidence is %d bytes, more than the NATS server's max_payload %d", len(b), nc.MaxPayload())})
			log.Warn("evidence too large for NATS", "bytes", len(b), "max_payload", nc.MaxPayload())
		}
		if err := m.Respond(b); err != nil {
			log.Warn("replying to a quote request", "err", err)
		}
	})
	if err != nil {
		return fmt.Errorf("subscribing to %s: %w", QuoteSubject(hostID), err)
	}
	log.Info("answering quote requests over NATS", "subject", sub.Subject)
	// Announce now and after every reconnection, so that a verifier
	// attests at once. nats.go holds the connection's lock from a
	// reconnection until the subscriptions are sent again, so the
	// announcement reaches the server after the subscription.
	status := nc.StatusChanged(nats.CONNECTED)
	defer nc.RemoveStatusListener(status)
	announce(nc, hostID, log)
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-status:
			announce(nc, hostID, log)
		}
	}
	// Drain: no new requests, and a quote in progress is answered before
	// Serve returns (and the caller closes the TPM).
	closed := sub.StatusChanged(nats.SubscriptionClosed)
	if err := sub.Drain(); err != nil {
		log.Warn("draining the quote subscription", "err", err)
		return nil
	}
	select {
	case <-closed:
	case <-time.After(drainWait):
		log.Warn("a quote was still in progress at shutdown")
	}
	return nil
}

// drainWait bounds the wait for a quote in progress at shutdown.
const drainWait = 30 * time.Second

// answer decodes one request and quotes it.
func answer(d Device, data []byte, log *slog.Logger) Reply {
	if len(data) > MaxRequest {
		return Reply{Error: fmt.Sprintf("quote request of %d bytes, at most %d", len(data), MaxRequest)}
	}
	var req attest.QuoteRequest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return Reply{Error: "quote request: " + err.Error()}
	}
	ev, err := d.Quote(req)
	if err != nil {
		log.Warn("quote failed", "err", err)
		return Reply{Error: "quote: " + err.Error()}
	}
	log.Info("quoted", "pcrs", len(req.PCRs), "banks", len(req.Banks), "ima_from", req.IMAFrom)
	return Reply{Evidence: &ev}
}
