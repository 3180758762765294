package api_test

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"tep.dev/tep/attest/api"
	"tep.dev/tep/attest/store"
	"tep.dev/tep/attest/verifier"
)

// TestOperators: a handler mounted beside the API (the dashboard,
// /metrics) takes the API's operator credentials, tokens and client
// certificates, and nothing else.
func TestOperators(t *testing.T) {
	s, err := store.OpenSQLite(filepath.Join(t.TempDir(), "v.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v := verifier.New(verifier.Config{Store: s})
	a := api.New(api.Config{Verifier: v})
	mux := http.NewServeMux()
	mux.Handle("/page", a.Operators(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "page") })))
	caPEM, issue := testCA(t)
	certPEM, keyPEM, _ := api.SelfSigned("verifier", []string{"127.0.0.1"}, time.Now())
	cert, _ := tls.X509KeyPair(certPEM, keyPEM)
	tlsCfg, err := api.ServerTLS(cert, caPEM)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(mux)
	srv.TLS = tlsCfg
	srv.StartTLS()
	defer srv.Close()

	token := func(role string) string {
		tok, _, err := v.CreateToken(context.Background(), role, 0)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	revoked := token(store.RoleAdmin)
	toks, _ := s.Tokens(context.Background())
	s.RevokeToken(context.Background(), toks[0].ID)
	auditorCert, noRole := issue(store.RoleAuditor), issue("visitor")
	for _, tc := range []struct {
		name  string
		token string
		cert  *tls.Certificate
		want  int
	}{
		{"nothing", "", nil, http.StatusUnauthorized},
		{"auditor token", token(store.RoleAuditor), nil, http.StatusOK},
		{"admin token", token(store.RoleAdmin), nil, http.StatusOK},
		{"enrolment token", token(store.RoleEnroll), nil, http.StatusUnauthorized},
		{"revoked token", revoked, nil, http.StatusUnauthorized},
		{"unknown token", "tepv_nope", nil, http.StatusUnauthorized},
		{"auditor certificate", "", &auditorCert, http.StatusOK},
		{"certificate without a role", "", &noRole, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := api.NewClient(srv.URL, certPEM, tc.cert)
			if err != nil {
				t.Fatal(err)
			}
			if got, msg := call(t, c.HTTP, "GET", srv.URL+"/page", tc.token, nil); got != tc.want {
				t.Errorf("GET /page = %d (%s), want %d", got, msg, tc.want)
			}
		})
	}
}

func TestRoute(t *testing.T) {
	a := api.New(api.Config{Verifier: verifier.New(verifier.Config{})})
	for _, tc := range []struct{ method, path, want string }{
		{"GET", "/v1/hosts/box-1", "GET /v1/hosts/{id}"},
		{"POST", "/v1/agent/evidence", "POST /v1/agent/evidence"},
		{"GET", "/v1/flavor-groups/g1", "GET /v1/flavor-groups/{id}"},
		{"GET", "/elsewhere/1", ""},
	} {
		if got := a.Route(httptest.NewRequest(tc.method, tc.path, nil)); got != tc.want {
			t.Errorf("Route(%s %s) = %q, want %q", tc.method, tc.path, got, tc.want)
		}
	}
}
