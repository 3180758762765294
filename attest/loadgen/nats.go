package loadgen

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/api"
	"tep.dev/tep/attest/natsquote"
	"tep.dev/tep/attest/simdevice"
)

// NATS-mode bounds.
const (
	// subscribeWait bounds the wait for a device's subscription to reach
	// the NATS server.
	subscribeWait = 30 * time.Second
	// minSettle is the least a NATS run waits, without a new first
	// report, for the devices' first reports before it starts its
	// timed part anyway.
	minSettle = 30 * time.Second
	// scrapeTimeout bounds the reads of the verifier's figures at the
	// end of a run (which may have ended with ctx).
	scrapeTimeout = time.Minute
)

// natsDevice answers the verifier's quote requests for one simulated
// device and notes when it answered them.
type natsDevice struct {
	d *simdevice.Device
	t *natsTally
}

// Quote implements natsquote.Device.
func (n natsDevice) Quote(req attest.QuoteRequest) (attest.Evidence, error) {
	ev, err := n.d.Evidence(req)
	n.t.quoted(n.d.HostID, err)
	return ev, err
}

// natsTally gathers the devices' answers.
type natsTally struct {
	mu      sync.Mutex
	first   map[string]bool // devices that answered a quote
	timed   bool            // counting the timed part
	quotes  int             // answered in the timed part
	errs    int
	errList []string
	changed chan struct{} // signalled at every device's first answer
}

func (t *natsTally) quoted(host string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		t.errs++
		if msg := fmt.Sprintf("quote of %s: %v", host, err); len(t.errList) < maxErrors && !slices.Contains(t.errList, msg) {
			t.errList = append(t.errList, msg)
		}
		return
	}
	if t.timed {
		t.quotes++
	}
	if !t.first[host] {
		t.first[host] = true
		select {
		case t.changed <- struct{}{}:
		default:
		}
	}
}

func (t *natsTally) answered() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.first)
}

// runNATS has the fleet answer the verifier's pulls over NATS: each
// device connects and serves its quote subject, enrols in NATS mode,
// and answers what the verifier's schedule asks. Once every device has
// answered (or none has for a while) the timed part runs for
// cfg.Duration; then the verifier's figures are read and, unless
// cfg.KeepHosts, the devices' hosts deleted.
func runNATS(ctx context.Context, cfg Config, fleet *simdevice.Fleet, res *Result) error {
	t := &natsTally{first: map[string]bool{}, changed: make(chan struct{}, 1)}
	sctx, stop := context.WithCancel(context.Background())
	var served sync.WaitGroup
	conns, err := serveAll(sctx, cfg, fleet, t, &served)
	defer func() {
		stop()
		served.Wait()
		for _, nc := range conns {
			nc.Close()
		}
	}()
	if err != nil {
		return err
	}
	clients, err := enrollAll(ctx, cfg, fleet)
	res.Enrolled = len(clients)
	for _, c := range clients {
		c.HTTP.CloseIdleConnections()
	}
	admin, aerr := adminClients(cfg)
	if aerr != nil {
		return aerr
	}
	if !cfg.KeepHosts {
		defer removeHosts(admin[0], fleet.Devices)
	}
	if err != nil {
		return err
	}
	settle(ctx, cfg, t, len(fleet.Devices))
	return timedNATS(ctx, cfg, fleet, admin, t, res)
}

// timedNATS runs the timed part of a NATS run and fills res from the
// verifier's figures.
func timedNATS(ctx context.Context, cfg Config, fleet *simdevice.Fleet, admin []*api.Client, t *natsTally, res *Result) error {
	before, err := scrapeAll(ctx, admin)
	if err != nil {
		return err
	}
	if cfg.Pushing != nil {
		cfg.Pushing()
	}
	t.mu.Lock()
	t.timed = true
	t.mu.Unlock()
	cpu0, start := cpuTime(), time.Now()
	wait := ctx
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		wait, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	<-wait.Done()
	end := time.Now()
	res.Elapsed, res.PushCPU = end.Sub(start), cpuTime()-cpu0
	t.mu.Lock()
	t.timed = false
	res.Quotes, res.Failed, res.Errors = t.quotes, t.errs, slices.Clone(t.errList)
	t.mu.Unlock()

	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), scrapeTimeout)
	defer cancel()
	after, err := scrapeAll(rctx, admin)
	if err != nil {
		return err
	}
	d := after.since(before)
	res.P50, res.P95, res.P99, res.Max = d.quantile(.50), d.quantile(.95), d.quantile(.99), d.highest()
	res.Rejected = int(d.results["rejected"] + d.results["error"])
	res.Failed += res.Rejected
	return storedReports(rctx, admin[0], cfg.Interval, fleet, start, end, res)
}

// serveAll connects every device to NATS, one connection each as each
// real agent keeps its own, and serves its quote subject until ctx
// ends; it returns once every subscription has reached the server.
func serveAll(ctx context.Context, cfg Config, fleet *simdevice.Fleet, t *natsTally, wg *sync.WaitGroup) ([]*nats.Conn, error) {
	conns := make([]*nats.Conn, 0, len(fleet.Devices))
	for _, d := range fleet.Devices {
		c := cfg.NATS
		c.Name = "tep-loadgen " + d.HostID
		nc, err := natsquote.Connect(c, nil)
		if err != nil {
			return conns, fmt.Errorf("device %s: %w", d.HostID, err)
		}
		conns = append(conns, nc)
		wg.Go(func() { natsquote.Serve(ctx, nc, d.HostID, natsDevice{d, t}, nil) })
	}
	for i, nc := range conns {
		end := time.Now().Add(subscribeWait)
		for nc.NumSubscriptions() == 0 || nc.FlushTimeout(subscribeWait) != nil {
			if time.Now().After(end) {
				return conns, fmt.Errorf("device %s: not subscribed on NATS %s within %v (last error %v)", fleet.Devices[i].HostID, cfg.NATS.URL, subscribeWait, nc.LastError())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return conns, nil
}

// settle waits until every device has answered a quote (its first
// report, with its whole log, made by the verifier's schedule), or
// until none has for the longer of three intervals and minSettle.
func settle(ctx context.Context, cfg Config, t *natsTally, devices int) {
	quiet := max(3*cfg.Interval, minSettle)
	timer := time.NewTimer(quiet)
	defer timer.Stop()
	for t.answered() < devices {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
			return
		case <-t.changed:
			timer.Reset(quiet)
		}
	}
}

// adminClients returns an operator's client of each verifier replica.
func adminClients(cfg Config) ([]*api.Client, error) {
	var cs []*api.Client
	for _, u := range cfg.Verifiers {
		c, err := newClient(cfg, u)
		if err != nil {
			return nil, err
		}
		c.Token = cfg.AdminToken
		cs = append(cs, c)
	}
	return cs, nil
}

// scrapeAll sums the replicas' figures.
func scrapeAll(ctx context.Context, cs []*api.Client) (figures, error) {
	var sum figures
	for _, c := range cs {
		f, err := scrape(ctx, c)
		if err != nil {
			return figures{}, fmt.Errorf("%s: %w", c.URL, err)
		}
		sum.add(f)
	}
	return sum, nil
}

// removeHosts deletes the devices' hosts, so that the verifier stops
// pulling devices that are gone; failures are ignored (the run's
// result stands).
func removeHosts(c *api.Client, devs []*simdevice.Device) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	for _, d := range devs {
		if c.Do(ctx, http.MethodDelete, "/v1/hosts/"+url.PathEscape(d.HostID), nil, nil) != nil && ctx.Err() != nil {
			return
		}
	}
}
