package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"tep.dev/tep/attest/agentsvc"
	"tep.dev/tep/attest/api"
	"tep.dev/tep/attest/report"
	"tep.dev/tep/attest/store"
	"tep.dev/tep/internal/swtpm"
)

// scrapeMetrics reads the verifier's /metrics with an operator token.
func scrapeMetrics(t *testing.T, v *verifierProc) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, v.url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+v.admin)
	resp, err := v.client(t, "").HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics = %d %s", resp.StatusCode, b)
	}
	return string(b)
}

// checkMetrics: after one attestation without flavors (stored,
// untrusted, with FlavorMissing faults), /metrics counts it, each of its
// faults by name, its latency, and the requests by route.
func checkMetrics(t *testing.T, v *verifierProc, first api.Report) {
	t.Helper()
	var rep report.Report
	if err := json.Unmarshal(first.Report, &rep); err != nil || rep.Trusted || len(rep.Faults) == 0 {
		t.Fatalf("first report: %s (%v)", first.Report, err)
	}
	want := []string{
		`tep_attestations_total{result="untrusted"} 1`, `tep_attestations_total{result="trusted"} 0`,
		`tep_verification_seconds_count 1`, `tep_http_requests_total{code="201",route="POST /v1/agent/evidence"} 1`,
		`tep_http_requests_total{code="200",route="POST /v1/agent/challenge"} 1`,
	}
	names := map[string]int{}
	for _, f := range rep.Faults {
		names[f.Name]++
	}
	for n, c := range names {
		want = append(want, fmt.Sprintf("tep_faults_total{name=%q} %d", n, c))
	}
	m := scrapeMetrics(t, v)
	for _, l := range want {
		if !strings.Contains(m, "\n"+l+"\n") {
			t.Errorf("/metrics lacks %s:\n%s", l, m)
		}
	}
}

// evidenceReply is the reply to evidence sent slowly.
type evidenceReply struct {
	code int
	rep  api.Report
	err  error
}

// slowEvidence posts evidence whose body the test writes to the
// returned pipe, and returns once the verifier's handler has begun to
// read it: over HTTP/1.1 with Expect: 100-continue the server sends 100
// Continue on the handler's first read of the body.
func slowEvidence(t *testing.T, v *verifierProc) (*io.PipeWriter, <-chan evidenceReply) {
	t.Helper()
	pool, err := api.PinnedPool(v.certPEM)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ExpectContinueTimeout: time.Minute}}
	pr, pw := io.Pipe()
	inFlight := make(chan struct{})
	trace := &httptrace.ClientTrace{Got100Continue: func() { close(inFlight) }}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodPost, v.url+"/v1/agent/evidence", pr)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Expect", "100-continue")
	done := make(chan evidenceReply, 1)
	go func() {
		resp, err := hc.Do(req)
		if err != nil {
			done <- evidenceReply{err: err}
			return
		}
		defer resp.Body.Close()
		r := evidenceReply{code: resp.StatusCode}
		r.err = json.NewDecoder(resp.Body).Decode(&r.rep)
		done <- r
	}()
	select {
	case <-inFlight:
	case r := <-done:
		t.Fatalf("the evidence was answered before its body: %+v", r)
	}
	return pw, done
}

// TestGracefulShutdown runs tep-verifier serve as a process and a
// device on swtpm. One attestation counts in /metrics; then evidence is
// in flight (the verifier has begun reading its body) when SIGTERM
// comes: the verifier takes no new connection, finishes that request,
// stores its report, and exits 0.
func TestGracefulShutdown(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca")
	d := newDevice(t, "box-term", ca, 7, 0)
	var log logWatch
	v := launchVerifier(t, dir, []string{swtpm.RootCert(ca), swtpm.IssuerCert(ca)}, &log, "--log-level", "info")
	ctx := context.Background()
	agentClient := v.client(t, "")
	if _, err := agentsvc.Enroll(ctx, d.agent, agentClient, d.id, v.enrolToken(t), "", nil); err != nil {
		t.Fatal(err)
	}
	first, err := agentsvc.Push(ctx, d.agent, agentClient, d.id)
	if err != nil {
		t.Fatal(err)
	}
	checkMetrics(t, v, first)

	req, err := agentClient.Challenge(ctx, d.id)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := d.agent.Quote(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(ev)
	pw, done := slowEvidence(t, v)
	half := len(body) / 2
	if _, err := pw.Write(body[:half]); err != nil {
		t.Fatal(err)
	}
	if err := v.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	log.waitFor(t, "shutting down", 10*time.Second)
	// New connections are refused while the request finishes.
	if c, err := net.Dial("tcp", strings.TrimPrefix(v.url, "https://")); err == nil {
		c.Close()
		t.Error("the verifier took a new connection after SIGTERM")
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("a new connection after SIGTERM: %v, want connection refused", err)
	}
	if _, err := pw.Write(body[half:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	r := <-done
	if r.err != nil || r.code != http.StatusCreated || r.rep.ID == "" {
		t.Fatalf("the evidence in flight: status %d, %+v, %v", r.code, r.rep, r.err)
	}
	if err := v.cmd.Wait(); err != nil {
		t.Fatalf("tep-verifier serve after SIGTERM: %v\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), "shut down") {
		t.Errorf("no 'shut down' in the log:\n%s", log.String())
	}
	s, err := store.OpenSQLite(filepath.Join(v.state, "verifier.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rs, err := s.Reports(ctx, store.ReportQuery{HostID: d.id})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].ID != r.rep.ID || rs[1].ID != first.ID {
		t.Errorf("stored reports = %d, newest %v; want the one in flight (%s) and the first (%s)", len(rs), rs, r.rep.ID, first.ID)
	}
}
