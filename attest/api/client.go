package api

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"tep.dev/tep/attest"
)

// maxReply bounds a reply the client reads.
const maxReply = 32 << 20

// StatusError is an error reply from the verifier.
type StatusError struct {
	Code int
	Body ErrorBody
	// RetryAfter is a 429's or 503's Retry-After, in whole seconds; 0
	// when the reply has none.
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	if e.Body.Fault != nil {
		return fmt.Sprintf("verifier: %d %s (fault %s)", e.Code, e.Body.Error, e.Body.Fault.Name)
	}
	return fmt.Sprintf("verifier: %d %s", e.Code, e.Body.Error)
}

// Client calls a verifier's API over HTTPS whose certificate chains to a
// pinned PEM bundle (usually the verifier's own self-signed certificate).
type Client struct {
	// URL is the verifier's base URL, https://HOST:PORT.
	URL string
	// Token is an operator's bearer token; agents have none.
	Token string
	HTTP  *http.Client
	// EnrollRetries bounds how many times Enroll and Activate try again
	// after a 429, each after its Retry-After (default
	// DefaultEnrollRetries; negative: never).
	EnrollRetries int
}

// DefaultEnrollRetries is Client.EnrollRetries' default: the verifier
// gives each refused enrolment an appointment, so one or two retries
// are usual; more only when a flood keeps the bucket empty.
const DefaultEnrollRetries = 10

// maxRetryWait bounds one wait for a Retry-After, whatever the reply
// says.
const maxRetryWait = 5 * time.Minute

// NewClient returns a Client for url that trusts only the certificates in
// pinnedPEM and presents cert (if not nil) as its client certificate.
func NewClient(url string, pinnedPEM []byte, cert *tls.Certificate) (*Client, error) {
	pool, err := PinnedPool(pinnedPEM)
	if err != nil {
		return nil, err
	}
	// A session cache lets a connection closed while idle (an agent
	// that attests once a minute) resume its TLS session: the verifier
	// neither signs a handshake nor sends its certificate again, and
	// the agent does not verify it again.
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13, ClientSessionCache: tls.NewLRUClientSessionCache(4)}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	tr := &http.Transport{TLSClientConfig: cfg, MaxIdleConnsPerHost: 4, IdleConnTimeout: time.Minute}
	return &Client{URL: strings.TrimRight(url, "/"), HTTP: &http.Client{Transport: tr, Timeout: 2 * time.Minute}}, nil
}

// Do sends in (if not nil) as JSON, or as it is if it is a []byte, and
// decodes the reply into out (if
// not nil); an error reply becomes a *StatusError.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	switch x := in.(type) {
	case nil:
	case []byte:
		// Sent as it is: a file's JSON, or a test's bad request.
		body = bytes.NewReader(x)
	default:
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.URL+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	if err != nil {
		return fmt.Errorf("reading the verifier's reply: %w", err)
	}
	if resp.StatusCode >= 300 {
		se := &StatusError{Code: resp.StatusCode}
		if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && n > 0 {
			se.RetryAfter = time.Duration(min(n, int(maxRetryWait/time.Second))) * time.Second
		}
		if json.Unmarshal(b, &se.Body) != nil || se.Body.Error == "" {
			se.Body.Error = strings.TrimSpace(string(b))
		}
		return se
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("decoding the verifier's reply to %s %s: %w", method, path, err)
	}
	return nil
}

// Enroll sends an enrolment and returns the credential challenge; a
// 429 is tried again after its Retry-After (see EnrollRetries).
func (c *Client) Enroll(ctx context.Context, b EnrollBody) (attest.Challenge, error) {
	var ch attest.Challenge
	return ch, c.retry429(ctx, func() error { return c.Do(ctx, http.MethodPost, "/v1/agent/enroll", b, &ch) })
}

// Activate returns the challenge's secret; a 429 is tried again after
// its Retry-After (see EnrollRetries).
func (c *Client) Activate(ctx context.Context, a attest.Activation) (ActivateReply, error) {
	var r ActivateReply
	return r, c.retry429(ctx, func() error { return c.Do(ctx, http.MethodPost, "/v1/agent/activate", a, &r) })
}

// retry429 calls do until it does not fail with a 429, at most
// EnrollRetries times more, waiting each reply's Retry-After (one
// second if it has none) unless ctx ends first.
func (c *Client) retry429(ctx context.Context, do func() error) error {
	tries := c.EnrollRetries
	if tries == 0 {
		tries = DefaultEnrollRetries
	}
	for i := 0; ; i++ {
		err := do()
		var se *StatusError
		if i >= tries || !errors.As(err, &se) || se.Code != http.StatusTooManyRequests {
			return err
		}
		wait := max(se.RetryAfter, time.Second)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (gave up waiting %s to retry: %w)", err, wait, ctx.Err())
		case <-t.C:
		}
	}
}

// Challenge asks for a quote request with a fresh nonce (push mode).
func (c *Client) Challenge(ctx context.Context, hostID string) (attest.QuoteRequest, error) {
	var q attest.QuoteRequest
	return q, c.Do(ctx, http.MethodPost, "/v1/agent/challenge", ChallengeBody{HostID: hostID}, &q)
}

// Evidence sends evidence and returns the stored report.
func (c *Client) Evidence(ctx context.Context, ev attest.Evidence) (Report, error) {
	var r Report
	return r, c.Do(ctx, http.MethodPost, "/v1/agent/evidence", ev, &r)
}
