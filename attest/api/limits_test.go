package api_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/api"
	"tep.dev/tep/attest/credential"
	"tep.dev/tep/attest/ekcert"
	"tep.dev/tep/attest/simdevice"
	"tep.dev/tep/attest/store"
	"tep.dev/tep/attest/verifier"
)

// countingEK checks EK certificates against a CA with package ekcert,
// as serve does, counting the checks: the costly work a refusal must
// not reach.
type countingEK struct {
	roots *x509.CertPool
	n     atomic.Int64
}

func (c *countingEK) Check(cert, pub []byte) error {
	c.n.Add(1)
	_, err := ekcert.Verify(cert, pub, ekcert.Options{Roots: c.roots})
	return err
}

// enrolRig is an API over TLS whose verifier trusts ca's EKs; its
// refusals' reasons are counted.
type enrolRig struct {
	*rig
	ek *countingEK

	mu      sync.Mutex
	reasons map[string]int
}

func newEnrolRig(t *testing.T, ca *simdevice.CA, acfg api.Config) *enrolRig {
	t.Helper()
	ek := &countingEK{roots: x509.NewCertPool()}
	ek.roots.AddCert(ca.Cert)
	er := &enrolRig{ek: ek, reasons: map[string]int{}}
	acfg.Refused = func(reason string) {
		er.mu.Lock()
		er.reasons[reason]++
		er.mu.Unlock()
	}
	er.rig = newRig(t, verifier.Config{EK: ek, Credential: credential.Make}, acfg, nil)
	return er
}

func (er *enrolRig) refused(reason string) int {
	er.mu.Lock()
	defer er.mu.Unlock()
	return er.reasons[reason]
}

// client is an agent's client of the rig whose connections come from
// the loopback address src (any 127.0.0.0/8 address is the loopback
// interface's), so that a test has several sources.
func (er *enrolRig) client(t *testing.T, src string) *api.Client {
	t.Helper()
	pemCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: er.srv.Certificate().Raw})
	c, err := api.NewClient(er.srv.URL, pemCert, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c.HTTP.Transport.(*http.Transport).DialContext = d.DialContext
	return c
}

func newDevices(t *testing.T, ca *simdevice.CA, prefix string, n int) []*simdevice.Device {
	t.Helper()
	f, err := simdevice.New(simdevice.Config{Devices: n, HostPrefix: prefix, CA: ca})
	if err != nil {
		t.Fatal(err)
	}
	return f.Devices
}

// enrol enrols and activates d with token through c.
func enrol(ctx context.Context, c *api.Client, d *simdevice.Device, token string) error {
	ch, err := c.Enroll(ctx, api.EnrollBody{EnrollRequest: d.Enroll(token)})
	if err != nil {
		return err
	}
	act, err := d.Activate(ch)
	if err != nil {
		return err
	}
	_, err = c.Activate(ctx, act)
	return err
}

func code(err error) int {
	var se *api.StatusError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// TestEnrolCheapRefusals: an enrolment with no token from an EK not on
// the allow list, or with a token that does not exist, is refused
// before the EK certificate is checked; a good token refused for an
// untrusted EK is not spent, and works for the device it was made for.
func TestEnrolCheapRefusals(t *testing.T) {
	ctx := context.Background()
	ca, _ := simdevice.NewCA(nil)
	other, _ := simdevice.NewCA(nil)
	er := newEnrolRig(t, ca, api.Config{RefusedRate: api.NoLimit})
	c := er.client(t, "127.0.0.1")
	d := newDevices(t, ca, "good-", 1)[0]
	stranger := newDevices(t, other, "bad-", 1)[0]

	for _, tc := range []struct {
		name string
		req  attest.EnrollRequest
		want int
	}{
		{"no token, EK not allowed", d.Enroll(""), http.StatusForbidden},
		{"another CA's EK, no token", stranger.Enroll(""), http.StatusForbidden},
		{"a token that does not exist", d.Enroll("tepv_nope"), http.StatusForbidden},
		// Refused before the AK is parsed: a bad AK would be a 400.
		{"a bad AK, no token", badAK(d.Enroll("")), http.StatusForbidden},
		{"an operator's token", d.Enroll(er.token(t, store.RoleAdmin)), http.StatusForbidden},
	} {
		_, err := c.Enroll(ctx, api.EnrollBody{EnrollRequest: tc.req})
		if code(err) != tc.want {
			t.Errorf("%s: %v, want %d", tc.name, err, tc.want)
		}
	}
	if n := er.ek.n.Load(); n != 0 {
		t.Errorf("%d EK certificates checked for enrolments refused by the cheap checks", n)
	}
	tok := er.token(t, store.RoleEnroll)
	_, err := c.Enroll(ctx, api.EnrollBody{EnrollRequest: stranger.Enroll(tok)})
	var se *api.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusUnprocessableEntity || se.Body.Fault == nil || se.Body.Fault.Name != attest.FaultEKCertUntrusted {
		t.Errorf("a good token with another CA's EK: %v, want 422 %s", err, attest.FaultEKCertUntrusted)
	}
	if err := enrol(ctx, c, d, tok); err != nil {
		t.Fatalf("the token after its refused use: %v", err)
	}
	if _, err := c.Enroll(ctx, api.EnrollBody{EnrollRequest: d.Enroll(tok)}); code(err) != http.StatusForbidden {
		t.Errorf("the token spent: %v, want 403", err)
	}
	if _, err := c.Enroll(ctx, api.EnrollBody{EnrollRequest: badAK(d.Enroll(er.token(t, store.RoleEnroll)))}); code(err) != http.StatusBadRequest {
		t.Errorf("a bad AK with a good token: %v, want 400", err)
	}
	if er.refused(api.RefusedUnauthorised) != 6 || er.refused(api.RefusedUntrustedEK) != 1 || er.refused(api.RefusedMalformed) != 1 {
		t.Errorf("refusals counted %v, want 6 unauthorised, 1 untrusted_ek, 1 malformed", er.reasons)
	}
}

// badAK returns req with an AK public area that does not parse.
func badAK(req attest.EnrollRequest) attest.EnrollRequest {
	req.AKPublic = []byte{0, 1, 2, 3}
	return req
}

// TestEnrolSourceLimit: an address that has spent its refusals is
// answered 429 with a Retry-After and the API's JSON error, whatever
// X-Forwarded-For says, even for a good enrolment; another address, and
// the same address's challenges and evidence, are served.
func TestEnrolSourceLimit(t *testing.T) {
	ctx := context.Background()
	ca, _ := simdevice.NewCA(nil)
	er := newEnrolRig(t, ca, api.Config{RefusedRate: 0.001, RefusedBurst: 3})
	flooder, other := er.client(t, "127.0.0.1"), er.client(t, "127.0.0.2")
	ds := newDevices(t, ca, "h-", 3)
	for i := range 3 {
		if _, err := flooder.Enroll(ctx, api.EnrollBody{EnrollRequest: ds[0].Enroll("")}); code(err) != http.StatusForbidden {
			t.Fatalf("refusal %d: %v, want 403", i, err)
		}
	}
	flooder.EnrollRetries = -1
	// Sent by hand: the reply's headers and body are the test.
	body := []byte(`{"host_id":"h-00000"}`)
	for _, xff := range []string{"", "192.0.2.7"} {
		req, _ := http.NewRequest(http.MethodPost, er.srv.URL+"/v1/agent/enroll", bytes.NewReader(body))
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		resp, err := flooder.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var eb api.ErrorBody
		json.NewDecoder(resp.Body).Decode(&eb)
		resp.Body.Close()
		ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		if resp.StatusCode != http.StatusTooManyRequests || ra < 1 || eb.Error == "" {
			t.Errorf("X-Forwarded-For %q: %d, Retry-After %q, error %q; want 429, a Retry-After and a message", xff, resp.StatusCode, resp.Header.Get("Retry-After"), eb.Error)
		}
	}
	tok := er.token(t, store.RoleEnroll)
	_, err := flooder.Enroll(ctx, api.EnrollBody{EnrollRequest: ds[1].Enroll(tok)})
	var se *api.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusTooManyRequests || se.RetryAfter < time.Second {
		t.Errorf("a good enrolment from the limited address: %v (Retry-After %v), want 429", err, se)
	}
	if _, err := flooder.Challenge(ctx, "nobody"); code(err) != http.StatusNotFound {
		t.Errorf("a challenge from the limited address: %v, want 404 (not limited)", err)
	}
	if _, err := flooder.Evidence(ctx, attest.Evidence{HostID: "nobody"}); code(err) != http.StatusNotFound {
		t.Errorf("evidence from the limited address: %v, want 404 (not limited)", err)
	}
	if err := enrol(ctx, other, ds[1], tok); err != nil {
		t.Errorf("a good enrolment from another address: %v", err)
	}
	if er.refused(api.RefusedSourceLimit) != 3 || er.refused(api.RefusedUnauthorised) != 3 {
		t.Errorf("refusals counted %v, want 3 source_limited and 3 unauthorised", er.reasons)
	}
}

// TestEnrolGlobalLimit: enrolments that pass the cheap checks take from
// the global bucket, refused ones do not; one that finds it empty is
// answered 429, and the client tries again after the Retry-After and
// succeeds, or gives up when its context ends.
func TestEnrolGlobalLimit(t *testing.T) {
	ctx := context.Background()
	ca, _ := simdevice.NewCA(nil)
	er := newEnrolRig(t, ca, api.Config{EnrollRate: 0.5, EnrollBurst: 1, RefusedRate: api.NoLimit})
	c := er.client(t, "127.0.0.1")
	ds := newDevices(t, ca, "g-", 3)
	for range 20 {
		if _, err := c.Enroll(ctx, api.EnrollBody{EnrollRequest: ds[0].Enroll("")}); code(err) != http.StatusForbidden {
			t.Fatalf("an enrolment with no token: %v, want 403", err)
		}
	}
	if err := enrol(ctx, c, ds[0], er.token(t, store.RoleEnroll)); err != nil {
		t.Fatalf("the first good enrolment (the refused ones took nothing): %v", err)
	}
	once := er.client(t, "127.0.0.1")
	once.EnrollRetries = -1
	_, err := once.Enroll(ctx, api.EnrollBody{EnrollRequest: ds[1].Enroll(er.token(t, store.RoleEnroll))})
	var se *api.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusTooManyRequests || se.RetryAfter < time.Second {
		t.Fatalf("a second enrolment at once: %v, want 429 with a Retry-After", err)
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err = c.Enroll(short, api.EnrollBody{EnrollRequest: ds[1].Enroll(er.token(t, store.RoleEnroll))})
	if !errors.Is(err, context.DeadlineExceeded) || code(err) != http.StatusTooManyRequests {
		t.Errorf("a retry cut short by its context: %v, want the 429 and the deadline", err)
	}
	if err := enrol(ctx, c, ds[2], er.token(t, store.RoleEnroll)); err != nil {
		t.Errorf("an enrolment that waits for its Retry-After: %v", err)
	}
	if n := er.refused(api.RefusedRateLimit); n < 2 {
		t.Errorf("%d rate_limited refusals counted, want at least 2", n)
	}
	if er.refused(api.RefusedSourceLimit) != 0 {
		t.Errorf("source limits counted with no source limit: %v", er.reasons)
	}
}
