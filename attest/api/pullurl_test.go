package api_test

import (
	"net/http"
	"strings"
	"testing"

	"tep.dev/tep/attest/api"
	"tep.dev/tep/attest/verifier"
)

// TestEnrollPullURL is a red-team attack by an enrolling agent: a pull
// URL that is not https would have the verifier call it without TLS, so
// without the pinned certificate (and post quote requests to any
// plain-HTTP service it can reach). It is refused for what it is.
func TestEnrollPullURL(t *testing.T) {
	r := newRig(t, verifier.Config{}, api.Config{}, nil)
	for _, u := range []string{"http://10.0.0.1:80/admin", "ftp://h1", "https://", "https://u:p@h1:9443", "//h1:9443"} {
		body := []byte(`{"host_id":"h1","ek_cert":"AA==","ek_public":"AA==","ak_public":"AA==","pull_cert":"AA==","pull_url":"` + u + `"}`)
		got, msg := call(t, r.srv.Client(), "POST", r.srv.URL+"/v1/agent/enroll", "", body)
		if got != http.StatusBadRequest || !strings.Contains(msg, "pull URL") {
			t.Errorf("enrolment with pull URL %q = %d %q, want %d naming the pull URL", u, got, msg, http.StatusBadRequest)
		}
	}
}
