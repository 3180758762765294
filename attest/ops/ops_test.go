package ops

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/api"
	"tep.dev/tep/attest/store"
	"tep.dev/tep/attest/verifier"
)

// outcomes is an Appraiser that answers from a list, in turn: the
// wrapper's counting is what is tested here; the real appraiser's
// outcomes are counted end to end in attest/e2e.
type outcomes struct {
	list []verifier.Outcome
	errs []error
	i    int
}

func (o *outcomes) Appraise(context.Context, verifier.Appraisal) (verifier.Outcome, error) {
	i := o.i
	o.i++
	return o.list[i], o.errs[i]
}

// scrape returns the metrics' text exposition.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics = %d", rec.Code)
	}
	return rec.Body.String()
}

func wantLines(t *testing.T, text string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(text, "\n"+l+"\n") {
			t.Errorf("metrics lack %q", l)
		}
	}
}

func TestAppraiserCounts(t *testing.T) {
	m := NewMetrics(nil, nil)
	pcr := 10
	a := m.Appraiser(&outcomes{
		list: []verifier.Outcome{
			{Trusted: true},
			{Faults: []attest.Fault{{Name: attest.FaultIMAFileUnknown}, {Name: attest.FaultPcrValueMismatchSHA256, PCR: &pcr}}},
			{Faults: []attest.Fault{{Name: attest.FaultIMAFileUnknown}}},
			{Reject: &attest.Fault{Name: attest.FaultQuoteSignature}},
			{},
		},
		errs: []error{nil, nil, nil, nil, errors.New("store down")},
	})
	for range 5 {
		a.Appraise(context.Background(), verifier.Appraisal{})
	}
	wantLines(t, scrape(t, m),
		`tep_attestations_total{result="trusted"} 1`,
		`tep_attestations_total{result="untrusted"} 2`,
		`tep_attestations_total{result="rejected"} 1`,
		`tep_attestations_total{result="error"} 1`,
		`tep_faults_total{name="ImaFileNotInPolicy"} 2`,
		`tep_faults_total{name="PcrValueMismatchSHA256"} 1`,
		`tep_faults_total{name="QuoteSignatureInvalid"} 1`,
		`tep_verification_seconds_count 5`,
	)
}

// importer is an Appraiser that also imports flavors, as the real one does.
type importer struct{ outcomes }

func (importer) Import(context.Context, verifier.Appraisal) ([][]byte, error) {
	return [][]byte{[]byte("flavor")}, nil
}

// TestAppraiserKeepsImport: the counting wrapper of an Appraiser that
// imports flavors still imports them (serve's flavor import said "not
// configured" when the wrapper hid it).
func TestAppraiserKeepsImport(t *testing.T) {
	m := NewMetrics(nil, nil)
	imp, ok := m.Appraiser(&importer{}).(verifier.Importer)
	if !ok {
		t.Fatal("the wrapped appraiser is no longer a verifier.Importer")
	}
	if b, err := imp.Import(context.Background(), verifier.Appraisal{}); err != nil || len(b) != 1 {
		t.Errorf("Import = %q, %v", b, err)
	}
	if _, ok := m.Appraiser(&outcomes{}).(verifier.Importer); ok {
		t.Error("an appraiser that cannot import became an Importer")
	}
}

// TestMiddleware: requests are counted by the pattern they matched and
// the status written, and a made-up path adds no series of its own.
func TestMiddleware(t *testing.T) {
	m := NewMetrics(nil, nil)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/hosts/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "gone" {
			http.Error(w, "no", http.StatusNotFound)
			return
		}
		io.WriteString(w, "ok")
	})
	route := func(r *http.Request) string { _, p := mux.Handler(r); return p }
	h := m.Middleware(route, mux)
	for _, p := range []string{"/v1/hosts/a", "/v1/hosts/b", "/v1/hosts/gone", "/nowhere/1", "/nowhere/2"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, p, nil))
	}
	text := scrape(t, m)
	wantLines(t, text,
		`tep_http_requests_total{code="200",route="GET /v1/hosts/{id}"} 2`,
		`tep_http_requests_total{code="404",route="GET /v1/hosts/{id}"} 1`,
		`tep_http_requests_total{code="404",route="unmatched"} 2`,
	)
	if strings.Contains(text, "nowhere") {
		t.Error("a raw path became a label")
	}
}

func openStore(t *testing.T) *store.SQLite {
	t.Helper()
	s, err := store.OpenSQLite(filepath.Join(t.TempDir(), "v.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// addHost activates a host in the store, pull mode when pullURL is set,
// and stores a report at last unless last is zero.
func addHost(t *testing.T, s store.Store, id, pullURL string, at, last time.Time) {
	t.Helper()
	ctx := context.Background()
	ek := sha256.Sum256([]byte(id))
	e := store.Enrollment{ID: "e-" + id, HostID: id, EKHash: hex.EncodeToString(ek[:]), EKPublic: ek[:], AKPublic: []byte("ak"),
		AKName: ek[:], SecretHash: ek[:], PullURL: pullURL, Created: at, Expires: at.Add(time.Hour)}
	if err := s.CreateEnrollment(ctx, e); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Activate(ctx, e.ID, at); err != nil {
		t.Fatal(err)
	}
	if !last.IsZero() {
		if err := s.AddReport(ctx, store.Report{ID: "r-" + id, HostID: id, Created: last, Body: []byte("{}")}, nil, []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
}

// blockingFetcher holds a pull until released, so that the queue depth
// can be read while it is in flight.
type blockingFetcher struct{ started, release chan struct{} }

func (f blockingFetcher) Fetch(context.Context, store.Host, attest.QuoteRequest) (attest.Evidence, error) {
	f.started <- struct{}{}
	<-f.release
	return attest.Evidence{}, nil
}

// TestQueueDepth: the pull-mode hosts without a report within the
// interval are due; a push-mode host never is; a pull in flight is
// claimed and leaves the queue.
func TestQueueDepth(t *testing.T) {
	s := openStore(t)
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	day := now.Add(-24 * time.Hour)
	addHost(t, s, "fresh", "https://fresh", day, now.Add(-30*time.Second))
	addHost(t, s, "late", "https://late", day, now.Add(-2*time.Minute))
	addHost(t, s, "never", "https://never", day, time.Time{})
	addHost(t, s, "pusher", "", day, time.Time{})
	m := NewMetrics(DueHosts(s, time.Minute, func() time.Time { return now }), nil)
	wantLines(t, scrape(t, m), "tep_queue_depth 2")

	f := blockingFetcher{make(chan struct{}), make(chan struct{})}
	done := make(chan struct{})
	go func() { m.Fetcher(f).Fetch(context.Background(), store.Host{}, attest.QuoteRequest{}); close(done) }()
	<-f.started
	wantLines(t, scrape(t, m), "tep_queue_depth 1")
	close(f.release)
	<-done
	wantLines(t, scrape(t, m), "tep_queue_depth 2")

	// A store that cannot be read gives no number rather than a wrong one.
	s.Close()
	wantLines(t, scrape(t, m), "tep_queue_depth NaN")
}

func TestHealth(t *testing.T) {
	s := openStore(t)
	h := NewHealth(nil, Check{"store", func(ctx context.Context) error { _, err := s.Version(ctx); return err }})
	ready := func() (int, Readiness) {
		rec := httptest.NewRecorder()
		h.Ready(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		var r Readiness
		if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		return rec.Code, r
	}
	if code, r := ready(); code != http.StatusOK || !r.Ready || r.Checks["store"] != "ok" {
		t.Errorf("ready = %d %+v", code, r)
	}
	h.Drain()
	if code, r := ready(); code != http.StatusServiceUnavailable || r.Ready || !r.Draining {
		t.Errorf("ready while draining = %d %+v", code, r)
	}
	h = NewHealth(nil, Check{"store", func(ctx context.Context) error { _, err := s.Version(ctx); return err }})
	s.Close()
	if code, r := ready(); code != http.StatusServiceUnavailable || r.Checks["store"] != "failed" {
		t.Errorf("ready with the store closed = %d %+v", code, r)
	}
	rec := httptest.NewRecorder()
	h.Live(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("healthz = %d", rec.Code)
	}
}

func TestHosts(t *testing.T) {
	m := NewMetrics(nil, nil)
	var fail bool
	m.Hosts(func(context.Context) (map[string]int, error) {
		if fail {
			return nil, errors.New("store down")
		}
		return map[string]int{"trusted": 3, "stale": 1}, nil
	})
	wantLines(t, scrape(t, m), `tep_hosts{state="trusted"} 3`, `tep_hosts{state="stale"} 1`)
	fail = true
	if text := scrape(t, m); strings.Contains(text, "tep_hosts{") {
		t.Errorf("tep_hosts with the store down:\n%s", text)
	}
}

// TestEnrollRefused: every reason is exported from the start, at zero,
// and counted as told.
func TestEnrollRefused(t *testing.T) {
	m := NewMetrics(nil, nil)
	m.EnrollRefused(api.RefusedSourceLimit)
	m.EnrollRefused(api.RefusedSourceLimit)
	m.EnrollRefused(api.RefusedUnauthorised)
	wantLines(t, scrape(t, m),
		`tep_enrollments_refused_total{reason="source_limited"} 2`,
		`tep_enrollments_refused_total{reason="unauthorised"} 1`,
		`tep_enrollments_refused_total{reason="rate_limited"} 0`,
		`tep_enrollments_refused_total{reason="untrusted_ek"} 0`,
	)
}
