package ops

import (
	"context"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/api"
	"tep.dev/tep/attest/store"
	"tep.dev/tep/attest/verifier"
)

// Attestation results, the "result" label of tep_attestations_total.
const (
	ResultTrusted   = "trusted"
	ResultUntrusted = "untrusted"
	// ResultRejected: the evidence was not the host's (bad signature,
	// signer or nonce); no report was stored.
	ResultRejected = "rejected"
	// ResultError: the appraisal itself failed (store, policy).
	ResultError = "error"
)

// queueTimeout bounds the store queries of one scrape of the queue depth.
const queueTimeout = 5 * time.Second

// Metrics are the verifier's Prometheus metrics.
type Metrics struct {
	reg          *prometheus.Registry
	attestations *prometheus.CounterVec
	faults       *prometheus.CounterVec
	latency      prometheus.Histogram
	requests     *prometheus.CounterVec
	refused      *prometheus.CounterVec
	pulling      atomic.Int64
	queue        QueueFunc
	log          *slog.Logger
}

// QueueFunc counts the attestations that are due; Metrics subtracts
// those being pulled at the moment, which are claimed.
type QueueFunc func(ctx context.Context) (int, error)

// NewMetrics returns the verifier's metrics, with the Go runtime's and
// the process' own. queue may be nil: no queue depth is exported.
func NewMetrics(queue QueueFunc, log *slog.Logger) *Metrics {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		attestations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tep_attestations_total",
			Help: "Evidence appraised, by result: trusted, untrusted, rejected (not the host's evidence; nothing stored) or error.",
		}, []string{"result"}),
		faults: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tep_faults_total",
			Help: "Faults in stored trust reports and in rejected evidence, by fault name.",
		}, []string{"name"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "tep_verification_seconds",
			Help: "Time to appraise one host's evidence and sign its report.",
			// 0.75 and 1.5 resolve the fleet target's 1 s bound: the
			// load generator interpolates its p99 within a bucket.
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, .75, 1, 1.5, 2.5, 5, 10},
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tep_http_requests_total",
			Help: "HTTP requests served, by matched route pattern and status code.",
		}, []string{"route", "code"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tep_enrollments_refused_total",
			Help: "Enrolments and activations refused, by reason: rate_limited and source_limited (429), malformed, unauthorised, untrusted_ek, conflict, activation.",
		}, []string{"reason"}),
		queue: queue,
		log:   log,
	}
	m.reg.MustRegister(m.attestations, m.faults, m.latency, m.requests, m.refused,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, r := range []string{ResultTrusted, ResultUntrusted, ResultRejected, ResultError} {
		m.attestations.WithLabelValues(r)
	}
	for _, r := range api.RefusalReasons {
		m.refused.WithLabelValues(r)
	}
	if queue != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tep_queue_depth",
			Help: "Attestations that are due and that no one is working on (pull-mode hosts without a recent report, less the pulls in flight).",
		}, m.queueDepth))
	}
	return m
}

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(m.log.Handler(), slog.LevelError)})
}

// Registry is the metrics' registry, for a caller's own collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

func (m *Metrics) queueDepth() float64 {
	ctx, cancel := context.WithTimeout(context.Background(), queueTimeout)
	defer cancel()
	n, err := m.queue(ctx)
	if err != nil {
		m.log.Warn("metrics: queue depth", "err", err)
		return math.NaN()
	}
	return float64(max(0, int64(n)-m.pulling.Load()))
}

// Appraiser returns a, counting every appraisal's result, faults and
// latency.
// An a that is also a verifier.Importer stays one: flavor import goes
// through it untouched.
func (m *Metrics) Appraiser(a verifier.Appraiser) verifier.Appraiser {
	w := &appraiser{m: m, next: a}
	if imp, ok := a.(verifier.Importer); ok {
		return importingAppraiser{w, imp}
	}
	return w
}

// importingAppraiser is a counted Appraiser that also imports flavors.
type importingAppraiser struct {
	*appraiser
	verifier.Importer
}

type appraiser struct {
	m    *Metrics
	next verifier.Appraiser
}

func (a *appraiser) Appraise(ctx context.Context, ap verifier.Appraisal) (verifier.Outcome, error) {
	start := time.Now()
	out, err := a.next.Appraise(ctx, ap)
	a.m.latency.Observe(time.Since(start).Seconds())
	switch {
	case err != nil:
		a.m.attestations.WithLabelValues(ResultError).Inc()
	case out.Reject != nil:
		a.m.attestations.WithLabelValues(ResultRejected).Inc()
		a.m.fault(*out.Reject)
	case out.Trusted:
		a.m.attestations.WithLabelValues(ResultTrusted).Inc()
	default:
		a.m.attestations.WithLabelValues(ResultUntrusted).Inc()
	}
	if err == nil {
		for _, f := range out.Faults {
			a.m.fault(f)
		}
	}
	return out, err
}

func (m *Metrics) fault(f attest.Fault) {
	m.faults.WithLabelValues(f.Name).Inc()
}

// EnrollRefused counts an enrolment or activation refused for reason
// (one of api.RefusalReasons): api.Config.Refused.
func (m *Metrics) EnrollRefused(reason string) {
	m.refused.WithLabelValues(reason).Inc()
}

// Fetcher returns f counting the pulls in flight, which the queue depth
// leaves out.
func (m *Metrics) Fetcher(f verifier.Fetcher) verifier.Fetcher {
	return &fetcher{m: m, next: f}
}

type fetcher struct {
	m    *Metrics
	next verifier.Fetcher
}

func (f *fetcher) Fetch(ctx context.Context, h store.Host, req attest.QuoteRequest) (attest.Evidence, error) {
	f.m.pulling.Add(1)
	defer f.m.pulling.Add(-1)
	return f.next.Fetch(ctx, h, req)
}

// Middleware counts h's requests by route and status. route names the
// pattern a request matches ("" when none does).
func (m *Metrics) Middleware(route func(*http.Request) string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			name := route(r)
			if name == "" {
				name = "unmatched"
			}
			if sw.code == 0 {
				sw.code = http.StatusOK
			}
			m.requests.WithLabelValues(name, strconv.Itoa(sw.code)).Inc()
		}()
		h.ServeHTTP(sw, r)
	})
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// DueHosts counts the pull-mode hosts, activated, whose newest report
// is older than interval at now (or that have none): the attestations
// the pull loop owes.
func DueHosts(s store.Store, interval time.Duration, now func() time.Time) QueueFunc {
	return func(ctx context.Context) (int, error) {
		hosts, err := s.Hosts(ctx)
		if err != nil {
			return 0, err
		}
		latest, err := s.Latest(ctx)
		if err != nil {
			return 0, err
		}
		last := make(map[string]time.Time, len(latest))
		for _, r := range latest {
			last[r.HostID] = r.Created
		}
		n, t := 0, now()
		for _, h := range hosts {
			if h.PullURL == "" || len(h.AKName) == 0 {
				continue
			}
			if at, ok := last[h.ID]; !ok || t.Sub(at) >= interval {
				n++
			}
		}
		return n, nil
	}
}

// HostsFunc counts the fleet's hosts by state.
type HostsFunc func(ctx context.Context) (map[string]int, error)

// Hosts exports tep_hosts{state}, read from hosts at each scrape; a
// scrape where the store cannot be read has no tep_hosts series.
func (m *Metrics) Hosts(hosts HostsFunc) {
	m.reg.MustRegister(&hostsCollector{fn: hosts, log: m.log, desc: prometheus.NewDesc("tep_hosts",
		"Hosts by state: trusted, untrusted, stale (no report within the stale limit) or never attested.", []string{"state"}, nil)})
}

type hostsCollector struct {
	fn   HostsFunc
	log  *slog.Logger
	desc *prometheus.Desc
}

func (c *hostsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *hostsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), queueTimeout)
	defer cancel()
	counts, err := c.fn(ctx)
	if err != nil {
		c.log.Warn("metrics: hosts by state", "err", err)
		return
	}
	for state, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), state)
	}
}
