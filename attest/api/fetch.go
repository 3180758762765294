package api

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/store"
)

// QuotePath is the pull-mode agent's endpoint: POST a QuoteRequest, get
// Evidence.
const QuotePath = "/v1/quote"

// Fetcher is the verifier's side of pull mode: it calls an agent's
// QuotePath over TLS, trusting only the certificate the agent enrolled
// with, and presents the verifier's own certificate, which the agent
// pins.
type Fetcher struct {
	// Cert is the verifier's certificate and key.
	Cert tls.Certificate
	// MaxEvidence bounds the agent's reply (default DefaultMaxEvidence).
	MaxEvidence int64
}

// Fetch asks h's agent for evidence.
func (f *Fetcher) Fetch(ctx context.Context, h store.Host, req attest.QuoteRequest) (attest.Evidence, error) {
	var ev attest.Evidence
	cert, err := x509.ParseCertificate(h.PullCert)
	if err != nil {
		return ev, fmt.Errorf("host %q's pinned certificate: %w", h.ID, err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{f.Cert}, MinVersion: tls.VersionTLS13}}
	defer tr.CloseIdleConnections()
	b, err := json.Marshal(req)
	if err != nil {
		return ev, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(h.PullURL, "/")+QuotePath, bytes.NewReader(b))
	if err != nil {
		return ev, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Transport: tr}).Do(hreq)
	if err != nil {
		return ev, err
	}
	defer resp.Body.Close()
	limit := f.MaxEvidence
	if limit <= 0 {
		limit = DefaultMaxEvidence
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return ev, err
	}
	if int64(len(body)) > limit {
		return ev, fmt.Errorf("host %q's evidence is larger than %d bytes", h.ID, limit)
	}
	if resp.StatusCode != http.StatusOK {
		return ev, fmt.Errorf("host %q answered %d: %s", h.ID, resp.StatusCode, attest.Clip(string(bytes.TrimSpace(body)), attest.MaxPeerText))
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		return ev, fmt.Errorf("host %q's evidence: %w", h.ID, err)
	}
	return ev, nil
}
