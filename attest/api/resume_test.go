package api_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"tep.dev/tep/attest/api"
)

// TestClientResumesTLS: requests of a Client share a connection, and
// once its idle connection is closed (an agent that attests once a
// minute finds it so) the next connection resumes the TLS session
// instead of a full handshake.
func TestClientResumesTLS(t *testing.T) {
	certPEM, keyPEM, err := api.SelfSigned("tep-verifier", []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := api.ServerTLS(cert, nil)
	if err != nil {
		t.Fatal(err)
	}
	type seen struct {
		addr    string
		resumed bool
	}
	var mu sync.Mutex
	var got []seen
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, seen{r.RemoteAddr, r.TLS.DidResume})
		mu.Unlock()
		w.Write([]byte("{}"))
	}))
	srv.TLS = cfg
	srv.StartTLS()
	t.Cleanup(srv.Close)
	c, err := api.NewClient(srv.URL, certPEM, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 3 {
		if i == 2 {
			c.HTTP.CloseIdleConnections()
		}
		if err := c.Do(ctx, http.MethodGet, "/", nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if got[0].resumed || got[1].addr != got[0].addr {
		t.Errorf("first two requests: %+v, want one new connection", got[:2])
	}
	if got[2].addr == got[0].addr || !got[2].resumed {
		t.Errorf("after the idle connection closed: %+v, want a new connection that resumed the session", got[2])
	}
}
