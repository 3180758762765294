package loadgen

import (
	"context"
	"encoding/pem"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"tep.dev/tep/attest/api"
)

// histogramText renders a histogram with the verifier's name and these
// observations, and an attestations counter, in the text format.
func histogramText(t *testing.T, obs []float64, results map[string]float64) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: metricLatency, Buckets: []float64{.1, .5, 1, 2}})
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricAttestations}, []string{"result"})
	reg.MustRegister(h, c)
	for _, o := range obs {
		h.Observe(o)
	}
	for r, n := range results {
		c.WithLabelValues(r).Add(n)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, f := range fams {
		if _, err := expfmt.MetricFamilyToText(&b, f); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// TestFigures: the quantiles of the difference of two scrapes are
// interpolated within the bucket that holds the rank.
func TestFigures(t *testing.T) {
	early := []float64{5, 5, 5} // before the run: in +Inf, must not count
	var during []float64
	for range 50 {
		during = append(during, .05) // bucket (0, 0.1]
	}
	for range 40 {
		during = append(during, .3) // (0.1, 0.5]
	}
	for range 10 {
		during = append(during, 1.5) // (1, 2]
	}
	before, err := parseFigures(strings.NewReader(histogramText(t, early, map[string]float64{"trusted": 2})))
	if err != nil {
		t.Fatal(err)
	}
	after, err := parseFigures(strings.NewReader(histogramText(t, append(early, during...), map[string]float64{"trusted": 9, "rejected": 1})))
	if err != nil {
		t.Fatal(err)
	}
	d := after.since(before)
	ms := func(x float64) time.Duration { return time.Duration(x * float64(time.Millisecond)) }
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{
		{.5, ms(100)},  // rank 50: the top of the first bucket
		{.25, ms(50)},  // rank 25: half-way through (0, 0.1]
		{.70, ms(300)}, // rank 70: half-way through (0.1, 0.5]
		{.95, ms(1500)},
		{.99, ms(1900)},
	} {
		if got := d.quantile(tc.q); got != tc.want {
			t.Errorf("quantile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if got := d.highest(); got != 2*time.Second {
		t.Errorf("highest = %v, want 2s", got)
	}
	if d.results["trusted"] != 7 || d.results["rejected"] != 1 {
		t.Errorf("results = %v, want 7 trusted and 1 rejected", d.results)
	}
	// Only the earlier observations (all over the top bound): the
	// estimate is the largest finite bound.
	if got := before.quantile(.99); got != 2*time.Second {
		t.Errorf("quantile in +Inf = %v, want the largest bound 2s", got)
	}
	if got := before.since(before).quantile(.99); got != 0 {
		t.Errorf("quantile of nothing = %v, want 0", got)
	}
	var sum figures
	sum.add(d)
	sum.add(d)
	if got := sum.quantile(.70); got != ms(300) {
		t.Errorf("two replicas' sum: quantile(0.7) = %v, want 300ms", got)
	}
}

// TestFiguresErrors: metrics without the verifier's histogram, or not
// in the text format, are refused.
func TestFiguresErrors(t *testing.T) {
	for name, text := range map[string]string{
		"no histogram": "# TYPE tep_attestations_total counter\ntep_attestations_total{result=\"trusted\"} 3\n",
		"not metrics":  "<html>dashboard</html>\n",
	} {
		if _, err := parseFigures(strings.NewReader(text)); err == nil {
			t.Errorf("parseFigures(%s) succeeded", name)
		}
	}
}

func TestGaps(t *testing.T) {
	start := time.Unix(1000, 0)
	at := func(s float64) time.Time { return start.Add(time.Duration(s * float64(time.Second))) }
	end := at(10)
	for _, tc := range []struct {
		name    string
		times   []time.Time
		longest time.Duration
		missed  int
	}{
		{"on schedule", []time.Time{at(1), at(2.1), at(3.2), at(4.3), at(5.4), at(6.5), at(7.6), at(8.7), at(9.8)}, 1100 * time.Millisecond, 0},
		{"one missed", []time.Time{at(1), at(3.5), at(4.5), at(5.5), at(6.5), at(7.5), at(8.5), at(9.5)}, 2500 * time.Millisecond, 1},
		{"silent at the end", []time.Time{at(0.5), at(1.5), at(6.5)}, 5 * time.Second, 4 + 2},
		{"none", nil, 10 * time.Second, 10},
	} {
		g := gaps(start, end, tc.times, time.Second)
		if g.longest != tc.longest || g.missed != tc.missed {
			t.Errorf("%s: gaps = %v longest, %d missed; want %v, %d", tc.name, g.longest, g.missed, tc.longest, tc.missed)
		}
	}
}

// TestScrape reads a verifier's /metrics with the operator's token, and
// refuses a reply that is not the metrics.
func TestScrape(t *testing.T) {
	text := histogramText(t, []float64{.05}, map[string]float64{"trusted": 1})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path != "/metrics":
			http.NotFound(w, r)
		case r.Header.Get("Authorization") != "Bearer op":
			http.Error(w, "no token", http.StatusUnauthorized)
		default:
			io.WriteString(w, text)
		}
	}))
	defer srv.Close()
	pin := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	c, err := api.NewClient(srv.URL, pin, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Token = "op"
	f, err := scrape(context.Background(), c)
	if err != nil || f.results["trusted"] != 1 || f.buckets[math.Inf(1)] != 1 {
		t.Errorf("scrape = %+v, %v; want one trusted appraisal in the histogram", f, err)
	}
	c.Token = "stranger"
	if _, err := scrape(context.Background(), c); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("scrape without the operator's token = %v, want the 401", err)
	}
}
