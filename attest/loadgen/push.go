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

// pushKind says how an attestation is counted.
type pushKind int

const (
	// firstReport is a device's first attestation, with its whole log:
	// untimed, but a failure counts.
	firstReport pushKind = iota
	// warmupPush is a push due in Config.Warmup: neither timed nor
	// counted.
	warmupPush
	// countedPush is a push due after the warm-up: timed and counted.
	countedPush
)

// push has every device attest once, untimed (its first report carries
// its whole log, as after a device's enrolment), then once an interval
// from a start spread evenly over the first interval, until
// cfg.Warmup and cfg.Duration have passed or ctx ends; it counts the
// pushes due after cfg.Warmup.
func push(ctx context.Context, cfg Config, fleet *simdevice.Fleet, clients []*api.Client, res *Result) {
	t := &tally{reported: map[string]bool{}, res: res}
	sem := make(chan struct{}, cfg.EnrollParallel)
	var wg sync.WaitGroup
	for i, d := range fleet.Devices {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			attestOnce(ctx, ctx, d, clients[i], t, firstReport)
		})
	}
	wg.Wait()
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Warmup+cfg.Duration)
		defer cancel()
	}
	start := time.Now()
	counted := start.Add(cfg.Warmup)
	n := len(fleet.Devices)
	for i, d := range fleet.Devices {
		first := start.Add(cfg.Interval * time.Duration(i) / time.Duration(n))
		wg.Go(func() { schedule(ctx, first, counted, cfg.Interval, d, clients[i], t) })
	}
	waitUntil(ctx, counted)
	if cfg.Pushing != nil {
		cfg.Pushing()
	}
	cpu0, from := cpuTime(), time.Now()
	wg.Wait()
	res.Elapsed, res.PushCPU = time.Since(from), cpuTime()-cpu0
	res.Reported = len(t.reported)
	if res.Elapsed > 0 {
		res.Rate = float64(res.Attested) / res.Elapsed.Seconds()
	}
	res.P50, res.P95, res.P99, res.Max = percentiles(t.latencies)
}

// waitUntil returns at when, or sooner if ctx ends.
func waitUntil(ctx context.Context, when time.Time) {
	timer := time.NewTimer(time.Until(when))
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
}

// schedule attests at first and every interval after it until ctx ends;
// a push due while the last one still runs is skipped. Pushes due
// before counted are the warm-up's: made, not counted.
func schedule(ctx context.Context, first, counted time.Time, interval time.Duration, d *simdevice.Device, c *api.Client, t *tally) {
	next := first
	for {
		waitUntil(ctx, next)
		if ctx.Err() != nil {
			return
		}
		kind := countedPush
		if next.Before(counted) {
			kind = warmupPush
		}
		pctx, cancel := context.WithTimeout(ctx, interval)
		attestOnce(ctx, pctx, d, c, t, kind)
		cancel()
		next = next.Add(interval)
		for ; time.Since(next) > 0; next = next.Add(interval) {
			if !next.Before(counted) {
				t.missed(1)
			}
		}
	}
}

// attestOnce asks for a challenge, quotes and sends the evidence, timing
// the evidence POST, within ctx; a failure once run has ended (the run's
// end cutting the attestation short) or in the warm-up is not counted.
func attestOnce(run context.Context, ctx context.Context, d *simdevice.Device, c *api.Client, t *tally, kind pushKind) {
	failed := func(err error) {
		if kind != warmupPush && run.Err() == nil {
			t.fail(err)
		}
	}
	req, err := c.Challenge(ctx, d.HostID)
	if err != nil {
		failed(fmt.Errorf("challenge for %s: %w", d.HostID, err))
		return
	}
	ev, err := d.Evidence(req)
	if err != nil {
		failed(fmt.Errorf("quote of %s: %w", d.HostID, err))
		return
	}
	t0 := time.Now()
	r, err := c.Evidence(ctx, ev)
	if err != nil {
		failed(fmt.Errorf("evidence of %s: %w", d.HostID, err))
		return
	}
	t.ok(d.HostID, time.Since(t0), r.Trusted, kind == countedPush)
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
