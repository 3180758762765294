package api

import (
	"context"
	"errors"
	"time"

	"tep.dev/tep/attest/store"
	"tep.dev/tep/attest/verifier"
)

// Contact is what the verifier's last attempts to attest a pulled host
// (HTTPS or NATS) gave. A stale host's last report stands: an agent that
// cannot be reached is not thereby untrusted.
type Contact struct {
	Stale bool `json:"stale"`
	// LastReport is when an attempt last stored a report.
	LastReport time.Time `json:"last_report,omitzero"`
	// FailingSince, Failures and LastError describe the failures since.
	FailingSince time.Time `json:"failing_since,omitzero"`
	Failures     int       `json:"failures,omitempty"`
	LastError    string    `json:"last_error,omitempty"`
}

// withContact adds a pulled host's contact to its view; push-mode hosts
// and hosts never pulled have none. A store error leaves it out, logged.
func (s *Server) withContact(ctx context.Context, h store.Host) Host {
	v := hostView(h)
	if h.PullURL == "" {
		return v
	}
	c, err := s.v.Contact(ctx, h.ID)
	if err != nil {
		if !errors.Is(err, verifier.ErrNotFound) {
			s.log.Warn("reading a host's contact", "host", h.ID, "err", err)
		}
		return v
	}
	v.Contact = &Contact{Stale: c.Stale(), LastReport: c.LastReport, FailingSince: c.FailingSince, Failures: c.Failures, LastError: c.LastError}
	return v
}
