package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"time"

	"tep.dev/tep/attest/api"
	"tep.dev/tep/attest/dashboard"
	"tep.dev/tep/attest/ops"
	"tep.dev/tep/attest/store"
)

// readiness is what /readyz checks: the store answers, and the
// report-signing key and the TLS certificate are loaded and usable.
func readiness(s store.Store, key crypto.Signer, cert tls.Certificate) []ops.Check {
	return []ops.Check{
		{Name: "store", Fn: func(ctx context.Context) error { _, err := s.Version(ctx); return err }},
		{Name: "signing_key", Fn: func(context.Context) error {
			d := sha256.Sum256([]byte("tep-verifier readiness"))
			_, err := key.Sign(rand.Reader, d[:], crypto.SHA256)
			return err
		}},
		{Name: "tls_certificate", Fn: func(context.Context) error {
			leaf := cert.Leaf
			if leaf == nil {
				var err error
				if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
					return err
				}
			}
			if time.Now().After(leaf.NotAfter) {
				return errors.New("the TLS certificate has expired")
			}
			return nil
		}},
	}
}

// handler is everything serve answers: the API, the dashboard and
// /metrics for operators, and the probes for anyone; each request
// counted by route and status.
func handler(a *api.Server, d *dashboard.Dashboard, m *ops.Metrics, h *ops.Health) http.Handler {
	top := http.NewServeMux()
	top.HandleFunc("GET /healthz", h.Live)
	top.HandleFunc("GET /readyz", h.Ready)
	top.Handle("GET /metrics", a.Operators(m.Handler()))
	top.Handle(dashboard.Prefix, a.Operators(d))
	top.Handle("/", a)
	route := func(r *http.Request) string {
		switch _, p := top.Handler(r); p {
		case "/":
			return a.Route(r)
		case dashboard.Prefix:
			return d.Route(r)
		default:
			return p
		}
	}
	return m.Middleware(route, top)
}

// hostStates counts the fleet by state as the dashboard does, for
// tep_hosts.
func hostStates(d *dashboard.Dashboard) ops.HostsFunc {
	return func(ctx context.Context) (map[string]int, error) {
		c, err := d.Counts(ctx)
		return map[string]int{
			dashboard.StateTrusted: c.Trusted, dashboard.StateUntrusted: c.Untrusted,
			dashboard.StateStale: c.Stale, dashboard.StateNever: c.Never,
		}, err
	}
}
