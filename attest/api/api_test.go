package api_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"tep.dev/tep/attest/api"
	"tep.dev/tep/attest/store"
	"tep.dev/tep/attest/verifier"
)

// rig is a verifier API on TLS over a real SQLite store.
type rig struct {
	v   *verifier.Verifier
	s   *store.SQLite
	srv *httptest.Server
}

func newRig(t *testing.T, vcfg verifier.Config, acfg api.Config, tlsCfg *tls.Config) *rig {
	t.Helper()
	s, err := store.OpenSQLite(filepath.Join(t.TempDir(), "v.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	vcfg.Store = s
	v := verifier.New(vcfg)
	acfg.Verifier = v
	srv := httptest.NewUnstartedServer(api.New(acfg))
	if tlsCfg != nil {
		srv.TLS = tlsCfg
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return &rig{v: v, s: s, srv: srv}
}

func (r *rig) token(t *testing.T, role string) string {
	t.Helper()
	tok, _, err := r.v.CreateToken(context.Background(), role, 0)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// call sends a request and returns the status and the error message.
func call(t *testing.T, c *http.Client, method, url, token string, body []byte) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	var eb api.ErrorBody
	json.NewDecoder(resp.Body).Decode(&eb)
	return resp.StatusCode, eb.Error
}

func TestOperatorAuth(t *testing.T) {
	r := newRig(t, verifier.Config{}, api.Config{}, nil)
	admin, auditor, enroll := r.token(t, store.RoleAdmin), r.token(t, store.RoleAuditor), r.token(t, store.RoleEnroll)
	revoked := r.token(t, store.RoleAdmin)
	toks, _ := r.s.Tokens(context.Background())
	if err := r.s.RevokeToken(context.Background(), toks[len(toks)-1].ID); err != nil {
		t.Fatal(err)
	}
	flavor := []byte(`{"id":"f1"}`)
	for _, tc := range []struct {
		name, method, path, token string
		body                      []byte
		want                      int
	}{
		{"no token changes a flavor", "POST", "/v1/flavors", "", flavor, http.StatusUnauthorized},
		{"auditor changes a flavor", "POST", "/v1/flavors", auditor, flavor, http.StatusForbidden},
		{"auditor deletes a flavor", "DELETE", "/v1/flavors/f1", auditor, nil, http.StatusForbidden},
		{"auditor changes a template", "POST", "/v1/flavor-templates", auditor, flavor, http.StatusForbidden},
		{"unknown token", "POST", "/v1/flavors", "tepv_nope", flavor, http.StatusUnauthorized},
		{"enrolment token as operator", "GET", "/v1/hosts", enroll, nil, http.StatusUnauthorized},
		{"revoked admin", "DELETE", "/v1/hosts/h1", revoked, nil, http.StatusUnauthorized},
		{"no token reads hosts", "GET", "/v1/hosts", "", nil, http.StatusUnauthorized},
		{"no token reads reports", "GET", "/v1/reports", "", nil, http.StatusUnauthorized},
		{"auditor reads hosts", "GET", "/v1/hosts", auditor, nil, http.StatusOK},
		{"auditor reads reports", "GET", "/v1/reports/latest", auditor, nil, http.StatusOK},
		{"auditor deletes a host", "DELETE", "/v1/hosts/h1", auditor, nil, http.StatusForbidden},
		{"admin deletes an unknown host", "DELETE", "/v1/hosts/h1", admin, nil, http.StatusNotFound},
		{"admin reads a missing flavor", "GET", "/v1/flavors/f1", admin, nil, http.StatusNotFound},
		{"health needs no token", "GET", "/v1/health", "", nil, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, msg := call(t, r.srv.Client(), tc.method, r.srv.URL+tc.path, tc.token, tc.body); got != tc.want {
				t.Errorf("%s %s = %d (%s), want %d", tc.method, tc.path, got, msg, tc.want)
			}
		})
	}
	if ps, _ := r.s.Policies(context.Background(), store.KindFlavor); len(ps) != 0 {
		t.Errorf("%d flavors stored by refused requests", len(ps))
	}
}

// testCA makes a CA and a function that issues client certificates with
// an organisational unit.
func testCA(t *testing.T) (caPEM []byte, issue func(ou string) tls.Certificate) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "operators CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	ca, _ := x509.ParseCertificate(der)
	issue = func(ou string) tls.Certificate {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		leaf := &x509.Certificate{
			SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "op", OrganizationalUnit: []string{ou}},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}
		d, _ := x509.CreateCertificate(rand.Reader, leaf, ca, &k.PublicKey, key)
		return tls.Certificate{Certificate: [][]byte{d}, PrivateKey: k}
	}
	return pemCert(der), issue
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestClientCertificateRoles(t *testing.T) {
	caPEM, issue := testCA(t)
	_, other := testCA(t)
	certPEM, keyPEM, err := api.SelfSigned("verifier", []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := tls.X509KeyPair(certPEM, keyPEM)
	tlsCfg, err := api.ServerTLS(cert, caPEM)
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, verifier.Config{}, api.Config{}, tlsCfg)
	client := func(c *tls.Certificate) *http.Client {
		cl, err := api.NewClient(r.srv.URL, certPEM, c)
		if err != nil {
			t.Fatal(err)
		}
		return cl.HTTP
	}
	adminCert, auditorCert, noRole := issue("admin"), issue("auditor"), issue("visitor")
	for _, tc := range []struct {
		name   string
		cert   *tls.Certificate
		method string
		path   string
		want   int
	}{
		{"admin deletes", &adminCert, "DELETE", "/v1/hosts/h1", http.StatusNotFound},
		{"auditor deletes", &auditorCert, "DELETE", "/v1/hosts/h1", http.StatusForbidden},
		{"auditor reads", &auditorCert, "GET", "/v1/hosts", http.StatusOK},
		{"no role reads", &noRole, "GET", "/v1/hosts", http.StatusUnauthorized},
		{"no certificate", nil, "GET", "/v1/hosts", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, msg := call(t, client(tc.cert), tc.method, r.srv.URL+tc.path, "", nil); got != tc.want {
				t.Errorf("%s %s = %d (%s), want %d", tc.method, tc.path, got, msg, tc.want)
			}
		})
	}
	foreign := other("admin")
	req, _ := http.NewRequest("GET", r.srv.URL+"/v1/hosts", nil)
	if resp, err := client(&foreign).Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("a certificate from another CA was accepted: %d", resp.StatusCode)
	}
}

func TestBadRequests(t *testing.T) {
	r := newRig(t, verifier.Config{}, api.Config{MaxBody: 1 << 10, MaxEvidence: 4 << 10}, nil)
	big := []byte(`{"host_id":"h1","ima_log":"` + strings.Repeat("A", 8<<10) + `"}`)
	for _, tc := range []struct {
		name, path string
		body       []byte
		want       int
	}{
		{"malformed JSON", "/v1/agent/enroll", []byte(`{"host_id":`), http.StatusBadRequest},
		{"not an object", "/v1/agent/enroll", []byte(`[1,2]`), http.StatusBadRequest},
		{"unknown field", "/v1/agent/activate", []byte(`{"enrollment_id":"x","secrets":"AA=="}`), http.StatusBadRequest},
		{"data after the value", "/v1/agent/challenge", []byte(`{"host_id":"h1"} {}`), http.StatusBadRequest},
		{"bad base64", "/v1/agent/activate", []byte(`{"enrollment_id":"x","secret":"%%%"}`), http.StatusBadRequest},
		{"oversized enrolment", "/v1/agent/enroll", bytes.Repeat([]byte(" "), 2<<10), http.StatusRequestEntityTooLarge},
		{"oversized evidence", "/v1/agent/evidence", big, http.StatusRequestEntityTooLarge},
		{"bad host id", "/v1/agent/challenge", []byte(`{"host_id":"../etc"}`), http.StatusBadRequest},
		{"unknown host", "/v1/agent/challenge", []byte(`{"host_id":"h1"}`), http.StatusNotFound},
		{"evidence of an unknown host", "/v1/agent/evidence", []byte(`{"host_id":"h1"}`), http.StatusNotFound},
		{"unknown enrolment", "/v1/agent/activate", []byte(`{"enrollment_id":"x","secret":"AA=="}`), http.StatusNotFound},
		{"no host id", "/v1/agent/enroll", []byte(`{}`), http.StatusBadRequest},
		{"host facts too long", "/v1/agent/enroll", []byte(`{"host_id":"h1","ek_cert":"AA==","ek_public":"AA==","ak_public":"AA==","facts":{"os":"` + strings.Repeat("x", 300) + `"}}`), http.StatusBadRequest},
		{"pull URL without a certificate", "/v1/agent/enroll", []byte(`{"host_id":"h1","ek_cert":"AA==","ek_public":"AA==","ak_public":"AA==","pull_url":"https://h1:9443"}`), http.StatusBadRequest},
		{"AK not a TPMT_PUBLIC", "/v1/agent/enroll", []byte(`{"host_id":"h1","ek_cert":"AA==","ek_public":"AA==","ak_public":"AAAA"}`), http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, msg := call(t, r.srv.Client(), "POST", r.srv.URL+tc.path, "", tc.body)
			if got != tc.want || msg == "" {
				t.Errorf("POST %s = %d %q, want %d with a message", tc.path, got, msg, tc.want)
			}
		})
	}
	if got, _ := call(t, r.srv.Client(), "GET", r.srv.URL+"/v1/health", "", nil); got != http.StatusOK {
		t.Errorf("health after the bad requests = %d", got)
	}
}

// TestTokenExpiry: an operator token stops working when it expires.
func TestTokenExpiry(t *testing.T) {
	var now atomic.Int64 // the clock, read by the server's goroutines
	now.Store(time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC).UnixNano())
	r := newRig(t, verifier.Config{Now: func() time.Time { return time.Unix(0, now.Load()) }}, api.Config{}, nil)
	tok, _, err := r.v.CreateToken(context.Background(), store.RoleAuditor, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if got, msg := call(t, r.srv.Client(), "GET", r.srv.URL+"/v1/hosts", tok, nil); got != http.StatusOK {
		t.Fatalf("GET /v1/hosts with a fresh token = %d %s", got, msg)
	}
	now.Add(int64(time.Hour))
	if got, _ := call(t, r.srv.Client(), "GET", r.srv.URL+"/v1/hosts", tok, nil); got != http.StatusUnauthorized {
		t.Errorf("GET /v1/hosts with an expired token = %d, want 401", got)
	}
}
