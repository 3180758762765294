package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tep.dev/tep/attest/api"
	"tep.dev/tep/attest/dashboard"
	"tep.dev/tep/attest/ops"
	"tep.dev/tep/attest/store"
	"tep.dev/tep/attest/verifier"
)

// TestHandler: the probes answer anyone, /metrics and the dashboard
// only operators, the API is still there, and every request is counted
// under the pattern it matched (the API's and the dashboard's own).
func TestHandler(t *testing.T) {
	s, err := store.OpenSQLite(filepath.Join(t.TempDir(), "v.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	certPEM, keyPEM, _ := api.SelfSigned("v", []string{"127.0.0.1"}, time.Now())
	cert, _ := tls.X509KeyPair(certPEM, keyPEM)
	v := verifier.New(verifier.Config{Store: s})
	tok, _, err := v.CreateToken(context.Background(), store.RoleAuditor, 0)
	if err != nil {
		t.Fatal(err)
	}
	d, err := dashboard.New(dashboard.Config{Store: s})
	if err != nil {
		t.Fatal(err)
	}
	m := ops.NewMetrics(ops.DueHosts(s, time.Minute, time.Now), nil)
	m.Hosts(hostStates(d))
	h := handler(api.New(api.Config{Verifier: v}), d, m, ops.NewHealth(nil, readiness(s, key, cert)...))
	get := func(path, token string) (int, string) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		b, _ := io.ReadAll(rec.Body)
		return rec.Code, string(b)
	}
	for _, tc := range []struct {
		path, token string
		want        int
	}{
		{"/healthz", "", http.StatusOK},
		{"/readyz", "", http.StatusOK},
		{"/metrics", "", http.StatusUnauthorized},
		{"/dashboard/", "", http.StatusUnauthorized},
		{"/dashboard/", tok, http.StatusOK},
		{"/dashboard/hosts/box-1", tok, http.StatusNotFound},
		{"/v1/hosts/box-1", tok, http.StatusNotFound},
		{"/v1/health", "", http.StatusOK},
		{"/no/such/thing", "", http.StatusNotFound},
	} {
		if got, body := get(tc.path, tc.token); got != tc.want {
			t.Errorf("GET %s = %d, want %d: %s", tc.path, got, tc.want, body)
		}
	}
	code, text := get("/metrics", tok)
	if code != http.StatusOK {
		t.Fatalf("GET /metrics with a token = %d", code)
	}
	for _, l := range []string{
		`tep_http_requests_total{code="200",route="GET /healthz"} 1`,
		`tep_http_requests_total{code="401",route="GET /metrics"} 1`,
		`tep_http_requests_total{code="401",route="GET /dashboard/{$}"} 1`,
		`tep_http_requests_total{code="200",route="GET /dashboard/{$}"} 1`,
		`tep_http_requests_total{code="404",route="GET /dashboard/hosts/{id}"} 1`,
		`tep_http_requests_total{code="404",route="GET /v1/hosts/{id}"} 1`,
		`tep_http_requests_total{code="200",route="GET /v1/health"} 1`,
		`tep_http_requests_total{code="404",route="unmatched"} 1`,
		`tep_queue_depth 0`,
		`tep_hosts{state="trusted"} 0`, `tep_hosts{state="never attested"} 0`,
	} {
		if !strings.Contains(text, "\n"+l+"\n") {
			t.Errorf("/metrics lacks %s", l)
		}
	}
	if strings.Contains(text, "box-1") || strings.Contains(text, "/no/such") {
		t.Error("a host id or a raw path became a label")
	}
}

// TestReadinessChecks: each check fails on what it guards.
func TestReadinessChecks(t *testing.T) {
	s, err := store.OpenSQLite(filepath.Join(t.TempDir(), "v.db"))
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	certPEM, keyPEM, _ := api.SelfSigned("v", nil, time.Now().AddDate(-6, 0, 0)) // expired a year ago
	cert, _ := tls.X509KeyPair(certPEM, keyPEM)
	checks := readiness(s, key, cert)
	s.Close()
	for _, c := range checks {
		err := c.Fn(context.Background())
		if wantFail := c.Name != "signing_key"; (err != nil) != wantFail {
			t.Errorf("check %s = %v, want failure %v", c.Name, err, wantFail)
		}
	}
	// A key that cannot sign (an RSA key without its values).
	for _, c := range readiness(s, &rsa.PrivateKey{}, cert) {
		if c.Name == "signing_key" {
			if err := c.Fn(context.Background()); err == nil {
				t.Error("an unusable signing key passed")
			}
		}
	}
}
