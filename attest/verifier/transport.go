package verifier

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/store"
)

// natsPullURL is the pull URL of a host reached over NATS request/reply
// (package attest/natsquote makes it with URL): the scheme "nats" and
// the prefix of the host's own subjects. There is no certificate to pin:
// the evidence is signed by the AK, and NATS TLS protects the transport.
func natsPullURL(hostID string) string { return "nats:trust-agent." + hostID }

// checkPull checks an enrolment's pull-mode fields: none (push mode), an
// https URL with the agent's certificate, or the host's own NATS URL
// without one, so that no host enrols to be reached on another's
// subjects.
func checkPull(hostID string, pull Pull) error {
	switch {
	case len(pull.URL) > maxURLLen || len(pull.Cert) > maxEKCert:
		return fmt.Errorf("%w: pull URL or certificate too large", ErrInvalid)
	case pull.URL == "" && len(pull.Cert) == 0:
		return nil
	case pull.URL == natsPullURL(hostID) && len(pull.Cert) == 0:
		return nil
	}
	if !httpsURL(pull.URL) || len(pull.Cert) == 0 {
		return fmt.Errorf("%w: pull URL %q: an https URL with a host and no user, query or fragment, with the agent's certificate; or %q with none", ErrInvalid, pull.URL, natsPullURL(hostID))
	}
	return nil
}

// Transports picks the Fetcher for a host by its pull URL's scheme:
// "https" (attest/api.Fetcher), "nats" (attest/natsquote.Fetcher).
type Transports map[string]Fetcher

// Fetch asks the host's agent for evidence over its URL's transport.
func (t Transports) Fetch(ctx context.Context, h store.Host, req attest.QuoteRequest) (attest.Evidence, error) {
	u, err := url.Parse(h.PullURL)
	if err != nil {
		return attest.Evidence{}, fmt.Errorf("host %q: pull URL: %w", h.ID, err)
	}
	f := t[u.Scheme]
	if f == nil {
		return attest.Evidence{}, fmt.Errorf("host %q: no transport for %q URLs is configured", h.ID, u.Scheme)
	}
	return f.Fetch(ctx, h, req)
}

// ContactBook keeps whether the verifier's last attempt to attest a
// pull-mode (or NATS) host gave a report. A store that implements it
// (store.SQLite does) has pulled hosts marked stale while they cannot be
// attested: their last report stands, and no untrusted report is made
// for a host that is merely unreachable.
type ContactBook interface {
	// RecordContact records an attempt at now: failure "" for one that
	// stored a report, else why it did not.
	RecordContact(ctx context.Context, hostID string, now time.Time, failure string) error
	// Contact returns a host's record, or store.ErrNotFound.
	Contact(ctx context.Context, hostID string) (store.Contact, error)
}

// contact records the outcome of a pull of hostID, if the store keeps
// contacts; a failure to record is logged, never the pull's error.
func (v *Verifier) contact(hostID string, pullErr error) {
	cb, ok := v.cfg.Store.(ContactBook)
	if !ok {
		return
	}
	failure := ""
	if pullErr != nil {
		failure = pullErr.Error()
	}
	// The pull's context may be what ended; the record must still land.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cb.RecordContact(ctx, hostID, v.cfg.Now(), failure); err != nil {
		v.cfg.Log.Error("recording contact", "host", hostID, "err", err)
	}
}

// Contact returns what the verifier's last attempts to attest a pulled
// host gave; ErrNotFound for a host never pulled, or when the store
// keeps no contacts.
func (v *Verifier) Contact(ctx context.Context, hostID string) (store.Contact, error) {
	cb, ok := v.cfg.Store.(ContactBook)
	if !ok {
		return store.Contact{}, fmt.Errorf("%w: the store keeps no contacts", ErrNotFound)
	}
	c, err := cb.Contact(ctx, hostID)
	if errors.Is(err, store.ErrNotFound) {
		return c, fmt.Errorf("%w: no contact with host %q yet", ErrNotFound, hostID)
	}
	return c, err
}
