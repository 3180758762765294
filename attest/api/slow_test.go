package api_test

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"tep.dev/tep/attest/api"
	"tep.dev/tep/attest/verifier"
)

// TestSlowEvidenceBody is a red-team attack by an unauthenticated
// client: evidence bodies sent a byte at a time, as many as there are
// appraisal slots. While they trickle in, another host's evidence must
// still be appraised (here: refused as an unknown host, 404), not told
// that the verifier is busy (503).
func TestSlowEvidenceBody(t *testing.T) {
	r := newRig(t, verifier.Config{}, api.Config{Appraisals: 2}, nil)
	addr := strings.TrimPrefix(r.srv.URL, "https://")
	for range 2 {
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) // the test's own server
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		fmt.Fprintf(c, "POST /v1/agent/evidence HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"host_id\":")
	}
	// Let the server take both requests in before the honest one.
	time.Sleep(500 * time.Millisecond)
	got, msg := call(t, r.srv.Client(), "POST", r.srv.URL+"/v1/agent/evidence", "", []byte(`{"host_id":"h1"}`))
	if got != http.StatusNotFound {
		t.Errorf("evidence while two bodies trickle in = %d %q, want %d", got, msg, http.StatusNotFound)
	}
}
