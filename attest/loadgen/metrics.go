package loadgen

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"tep.dev/tep/attest/api"
)

// The verifier's metrics that a NATS run reads (package attest/ops).
const (
	metricLatency      = "tep_verification_seconds"
	metricAttestations = "tep_attestations_total"
)

// maxMetrics bounds a /metrics reply.
const maxMetrics = 8 << 20

// figures are one scrape of the verifier's metrics: the latency
// histogram's cumulative counts by upper bound, and the appraisals by
// result.
type figures struct {
	buckets map[float64]uint64
	results map[string]float64
}

// scrape reads the metrics of the verifier c reaches; c's token must
// be an operator's (auditor or admin).
func scrape(ctx context.Context, c *api.Client) (figures, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL+"/metrics", nil)
	if err != nil {
		return figures{}, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return figures{}, fmt.Errorf("reading the verifier's metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return figures{}, fmt.Errorf("reading the verifier's metrics: %s", resp.Status)
	}
	return parseFigures(io.LimitReader(resp.Body, maxMetrics))
}

// parseFigures reads the figures from metrics in Prometheus' text
// format; a verifier without the latency histogram is an error.
func parseFigures(r io.Reader) (figures, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return figures{}, fmt.Errorf("the verifier's metrics: %w", err)
	}
	f := figures{buckets: map[float64]uint64{}, results: map[string]float64{}}
	lat := fams[metricLatency]
	if lat == nil || len(lat.GetMetric()) != 1 || lat.GetMetric()[0].GetHistogram() == nil {
		return figures{}, fmt.Errorf("the verifier's metrics have no histogram %s", metricLatency)
	}
	h := lat.GetMetric()[0].GetHistogram()
	for _, b := range h.GetBucket() {
		f.buckets[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	f.buckets[math.Inf(1)] = h.GetSampleCount()
	if fam := fams[metricAttestations]; fam != nil {
		for _, m := range fam.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" {
					f.results[l.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	return f, nil
}

// add adds g's counts to f's (replicas' histograms sum).
func (f *figures) add(g figures) {
	if f.buckets == nil {
		f.buckets, f.results = map[float64]uint64{}, map[string]float64{}
	}
	for le, n := range g.buckets {
		f.buckets[le] += n
	}
	for r, n := range g.results {
		f.results[r] += n
	}
}

// since returns what was counted between an earlier scrape and f.
func (f figures) since(earlier figures) figures {
	d := figures{buckets: map[float64]uint64{}, results: map[string]float64{}}
	for le, n := range f.buckets {
		d.buckets[le] = n - min(n, earlier.buckets[le])
	}
	for r, n := range f.results {
		d.results[r] = n - earlier.results[r]
	}
	return d
}

// quantile estimates the q-quantile (0 < q <= 1) of the histogram as
// Prometheus' histogram_quantile does: it finds the bucket that holds
// the rank q·count and interpolates linearly between the bucket's
// bounds (the first bucket starts at zero). A rank in the +Inf bucket
// gives the largest finite bound; an empty histogram gives zero.
func (f figures) quantile(q float64) time.Duration {
	bounds := make([]float64, 0, len(f.buckets))
	for le := range f.buckets {
		bounds = append(bounds, le)
	}
	slices.Sort(bounds)
	if len(bounds) == 0 || f.buckets[bounds[len(bounds)-1]] == 0 {
		return 0
	}
	total := float64(f.buckets[bounds[len(bounds)-1]])
	rank := q * total
	lower, below := 0.0, 0.0
	for _, le := range bounds {
		n := float64(f.buckets[le])
		if n >= rank {
			if math.IsInf(le, 1) {
				return seconds(lower)
			}
			return seconds(lower + (le-lower)*(rank-below)/(n-below))
		}
		lower, below = le, n
	}
	return seconds(lower)
}

// highest is the upper bound of the highest bucket that holds an
// observation (the largest finite bound for +Inf): the most any
// observation took.
func (f figures) highest() time.Duration {
	bounds := make([]float64, 0, len(f.buckets))
	for le := range f.buckets {
		bounds = append(bounds, le)
	}
	slices.Sort(bounds)
	prev, lower := uint64(0), 0.0
	var top float64
	for _, le := range bounds {
		if n := f.buckets[le]; n > prev {
			top = le
			if math.IsInf(le, 1) {
				top = lower
			}
			prev = n
		}
		if !math.IsInf(le, 1) {
			lower = le
		}
	}
	return seconds(top)
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
