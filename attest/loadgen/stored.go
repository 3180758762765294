package loadgen

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"time"

	"tep.dev/tep/attest/api"
	"tep.dev/tep/attest/simdevice"
)

// reportPage is how many reports one GET /v1/reports returns at most
// (the store's bound on a listing).
const reportPage = 1000

// storedReports reads the reports the verifier stored for the fleet's
// hosts between start and end and fills res: Attested and Trusted from
// them, Reported from the hosts that have any report, and the gaps
// between a device's reports (the window's ends counting as reports):
// a gap of two intervals or more makes the device Late, and each
// interval in it beyond the first a Missed attestation.
func storedReports(ctx context.Context, c *api.Client, interval time.Duration, fleet *simdevice.Fleet, start, end time.Time, res *Result) error {
	rs, err := listReports(ctx, c, start, end)
	if err != nil {
		return err
	}
	times := map[string][]time.Time{}
	for _, r := range rs {
		if fleet.Lookup(r.HostID) == nil {
			continue
		}
		res.Attested++
		if r.Trusted {
			res.Trusted++
		}
		times[r.HostID] = append(times[r.HostID], r.Created)
	}
	if res.Elapsed > 0 {
		res.Rate = float64(res.Attested) / res.Elapsed.Seconds()
	}
	for _, d := range fleet.Devices {
		g := gaps(start, end, times[d.HostID], interval)
		res.Missed += g.missed
		res.MaxGap = max(res.MaxGap, g.longest)
		if g.longest >= 2*interval {
			res.Late++
		}
	}
	var hosts []api.Host
	if err := c.Do(ctx, "GET", "/v1/hosts", nil, &hosts); err != nil {
		return fmt.Errorf("listing the verifier's hosts: %w", err)
	}
	for _, h := range hosts {
		if fleet.Lookup(h.ID) != nil && h.LastReport != "" {
			res.Reported++
		}
	}
	return nil
}

// listReports pages through the reports created in [start, end),
// newest first as the API gives them.
func listReports(ctx context.Context, c *api.Client, start, end time.Time) ([]api.Report, error) {
	var all []api.Report
	seen := map[string]bool{}
	until := end
	for {
		q := url.Values{"since": {start.Format(time.RFC3339Nano)}, "until": {until.Format(time.RFC3339Nano)}, "limit": {fmt.Sprint(reportPage)}}
		var page []api.Report
		if err := c.Do(ctx, "GET", "/v1/reports?"+q.Encode(), nil, &page); err != nil {
			return nil, fmt.Errorf("listing the verifier's reports: %w", err)
		}
		fresh := 0
		for _, r := range page {
			if !seen[r.ID] {
				seen[r.ID] = true
				all = append(all, r)
				fresh++
			}
			// The next page ends after the oldest report seen, which it
			// repeats: reports created in the same nanosecond are not
			// lost at the page's edge.
			if t := r.Created.Add(time.Nanosecond); t.Before(until) {
				until = t
			}
		}
		if len(page) < reportPage || fresh == 0 {
			return all, nil
		}
	}
}

// gapFigures is one device's longest time without a report in a window
// and the attestations missed in it.
type gapFigures struct {
	longest time.Duration
	missed  int
}

// gaps measures the gaps between a device's reports at times within
// [start, end), the window's ends counting as reports: each gap of k
// whole intervals (k >= 2) missed k-1 attestations. A device without
// a report missed one an interval, at least one.
func gaps(start, end time.Time, times []time.Time, interval time.Duration) gapFigures {
	if len(times) == 0 {
		return gapFigures{longest: end.Sub(start), missed: max(1, int(end.Sub(start)/interval))}
	}
	ts := append([]time.Time{start}, times...)
	slices.SortFunc(ts[1:], func(a, b time.Time) int { return a.Compare(b) })
	ts = append(ts, end)
	var g gapFigures
	for i := 1; i < len(ts); i++ {
		d := ts[i].Sub(ts[i-1])
		g.longest = max(g.longest, d)
		if k := int(d / interval); k >= 2 {
			g.missed += k - 1
		}
	}
	return g
}
