package loadgen

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"tep.dev/tep/attest/api"
	"tep.dev/tep/attest/simdevice"
)

// tally gathers the devices' outcomes.
type tally struct {
	mu        sync.Mutex
	latencies []time.Duration
	reported  map[string]bool
	res       *Result
}

func (t *tally) ok(host string, d time.Duration, trusted, timed bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.reported[host] = true
	if !timed {
		return
	}
	t.res.Attested++
	if trusted {
		t.res.Trusted++
	}
	t.latencies = append(t.latencies, d)
}

func (t *tally) fail(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.res.Failed++
	msg := err.Error()
	if len(t.res.Errors) < maxErrors && !slices.Contains(t.res.Errors, msg) {
		t.res.Errors = append(t.res.Errors, msg)
	}
}

func (t *tally) missed(n int) {
	t.mu.Lock()
	t.res.Missed += n
	t.mu.Unlock()
}

// push has every device attest once, untimed (its first report carries
// its whole log, as after a device's enrolment), then once an interval
// from a start spread evenly over the first interval, until cfg.Duration
// has passed or ctx ends.
func push(ctx context.Context, cfg Config, fleet *simdevice.Fleet, clients []*api.Client, res *Result) {
	t := &tally{reported: map[string]bool{}, res: res}
	sem := make(chan struct{}, cfg.EnrollParallel)
	var wg sync.WaitGroup
	for i, d := range fleet.Devices {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			attestOnce(ctx, ctx, d, clients[i], t, false)
		})
	}
	wg.Wait()
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	if cfg.Pushing != nil {
		cfg.Pushing()
	}
	cpu0, start := cpuTime(), time.Now()
	n := len(fleet.Devices)
	for i, d := range fleet.Devices {
		first := start.Add(cfg.Interval * time.Duration(i) / time.Duration(n))
		wg.Go(func() { schedule(ctx, first, cfg.Interval, d, clients[i], t) })
	}
	wg.Wait()
	res.Elapsed, res.PushCPU = time.Since(start), cpuTime()-cpu0
	res.Reported = len(t.reported)
	if res.Elapsed > 0 {
		res.Rate = float64(res.Attested) / res.Elapsed.Seconds()
	}
	res.P50, res.P95, res.P99, res.Max = percentiles(t.latencies)
}

// schedule attests at first and every interval after it until ctx ends;
// a push due while the last one still runs is skipped and counted.
func schedule(ctx context.Context, first time.Time, interval time.Duration, d *simdevice.Device, c *api.Client, t *tally) {
	next := first
	for {
		timer := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		pctx, cancel := context.WithTimeout(ctx, interval)
		attestOnce(ctx, pctx, d, c, t, true)
		cancel()
		next = next.Add(interval)
		if late := time.Since(next); late > 0 {
			skip := int(late/interval) + 1
			t.missed(skip)
			next = next.Add(time.Duration(skip) * interval)
		}
	}
}

// attestOnce asks for a challenge, quotes and sends the evidence, timing
// the evidence POST, within ctx; a failure once run has ended (the run's
// end cutting the attestation short) is not counted.
func attestOnce(run context.Context, ctx context.Context, d *simdevice.Device, c *api.Client, t *tally, timed bool) {
	req, err := c.Challenge(ctx, d.HostID)
	if err != nil {
		failed(run, t, fmt.Errorf("challenge for %s: %w", d.HostID, err))
		return
	}
	ev, err := d.Evidence(req)
	if err != nil {
		failed(run, t, fmt.Errorf("quote of %s: %w", d.HostID, err))
		return
	}
	t0 := time.Now()
	r, err := c.Evidence(ctx, ev)
	if err != nil {
		failed(run, t, fmt.Errorf("evidence of %s: %w", d.HostID, err))
		return
	}
	t.ok(d.HostID, time.Since(t0), r.Trusted, timed)
}

// failed counts err unless run has ended.
func failed(run context.Context, t *tally, err error) {
	if run.Err() != nil {
		return
	}
	t.fail(err)
}

// percentiles returns the 50th, 95th and 99th percentiles (nearest rank)
// and the maximum of ds, which it sorts.
func percentiles(ds []time.Duration) (p50, p95, p99, most time.Duration) {
	if len(ds) == 0 {
		return 0, 0, 0, 0
	}
	slices.Sort(ds)
	rank := func(p int) time.Duration {
		i := (len(ds)*p + 99) / 100
		return ds[max(i-1, 0)]
	}
	return rank(50), rank(95), rank(99), ds[len(ds)-1]
}
