package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tep.dev/tep/attest/agentsvc"
	"tep.dev/tep/attest/api"
	"tep.dev/tep/attest/loadgen"
	"tep.dev/tep/attest/simdevice"
)

// The flood of TestEnrolmentFlood: at least floodRequests enrolments,
// from floodWorkers goroutines on each flooding address, while the
// fleet attests every fleetInterval.
const (
	floodRequests = 4000
	floodWorkers  = 4
	fleetDevices  = 12
	fleetInterval = 200 * time.Millisecond
)

// TestEnrolmentFlood: a real tep-verifier serve, with a fleet of
// enrolled devices attesting, meets a flood of enrolments from unknown
// EKs (EK certificates from another CA, and from the trusted CA but
// not on the allow list), from a leaked enrolment token with untrusted
// EKs, and of malformed bodies, from eight loopback addresses and many
// goroutines. The flooders are refused (403, 422, 400) and then turned
// away (429 with a Retry-After); no enrolment row is made for them;
// every device of the fleet keeps getting reports; a device enrolling
// with a token during the flood, and the load generator's devices,
// enrol, honouring the Retry-After of the 429s they meet; the leaked
// token, refused with every untrusted EK, is still unspent after it.
// Figures are logged, never asserted.
func TestEnrolmentFlood(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ca, err := simdevice.NewCA(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Write(dir); err != nil {
		t.Fatal(err)
	}
	other, _ := simdevice.NewCA(nil)
	v := launchVerifier(t, dir, []string{filepath.Join(dir, simdevice.CACertFile)}, nil, "--enroll-rate", "4", "--enroll-burst", "4")
	admin := v.client(t, v.admin)
	// The fleet enrols at once, more than the burst: those turned away
	// come back at their Retry-After.
	fleet := simFleet(t, ca, "fleet-", fleetDevices)
	fleet429 := &count429{}
	var enrolling sync.WaitGroup
	for _, d := range fleet {
		if err := admin.Do(ctx, http.MethodPost, "/v1/ek-allow", api.EKAllowBody{EKPublic: d.Enroll("").EKPublic}, nil); err != nil {
			t.Fatal(err)
		}
		c := v.client(t, "")
		c.HTTP.Transport = &count429{next: c.HTTP.Transport, total: &fleet429.n}
		enrolling.Go(func() {
			if _, err := agentsvc.Enroll(ctx, simAgent{d}, c, d.HostID, "", "", nil); err != nil {
				t.Errorf("enrolling %s: %v", d.HostID, err)
			}
		})
	}
	enrolling.Wait()
	if t.Failed() {
		t.FailNow()
	}
	enrollments := func() int { return countRows(t, filepath.Join(v.state, "verifier.db"), "enrollments") }

	run := startFleet(t, v, fleet)
	run.waitRounds(t, 5)
	rows0 := enrollments()
	fl := newFlood(t, v, ca, other)
	floodStart := time.Now()
	fl.start()

	// A device with a token, and the load generator's, enrol during the
	// flood, from the fleet's address.
	var wg sync.WaitGroup
	legit := simFleet(t, ca, "late-", 1)[0]
	legitToken := v.enrolToken(t)
	counted := &count429{}
	var legitErr error
	var legit429 int64
	wg.Go(func() {
		fl.waitAnswers(200)
		c := v.client(t, "")
		counted.next = c.HTTP.Transport
		c.HTTP.Transport = counted
		if _, legitErr = agentsvc.Enroll(ctx, simAgent{legit}, c, legit.HostID, legitToken, "", nil); legitErr == nil {
			_, legitErr = agentsvc.Push(ctx, simAgent{legit}, c, legit.HostID)
		}
		legit429 = counted.n.Load()
	})
	var lg loadgen.Result
	var lgErr error
	wg.Go(func() {
		fl.waitAnswers(400)
		lg, lgErr = loadgen.Run(ctx, loadgen.Config{
			Devices: 6, HostPrefix: "lg-", Verifiers: []string{v.url}, VerifierCert: v.certPEM, AdminToken: v.admin, CA: ca,
			Interval: time.Second, Duration: 2 * time.Second, IMAEntries: 20, IMAStep: 2,
		})
	})
	// The flood lasts floodRequests, and at least three of the fleet's
	// rounds.
	fl.waitAnswers(floodRequests)
	run.waitRounds(t, run.rounds()+3)
	fl.stop()
	floodEnd := time.Now()
	wg.Wait()
	run.stop()

	if legitErr != nil {
		t.Errorf("a device with a token, enrolling during the flood: %v", legitErr)
	}
	if lgErr != nil || lg.Enrolled != 6 || lg.Reported != 6 || lg.Failed != 0 {
		t.Errorf("the load generator during the flood: %+v, %v; want 6 devices enrolled and reported", lg, lgErr)
	}
	fl.check(t)
	if got := enrollments(); got != rows0+1+6 {
		t.Errorf("%d enrolments after the flood, %d before: want only the late device's and the load generator's 7 more", got, rows0)
	}
	// The leaked token, refused with every untrusted EK, was not spent.
	owner := simFleet(t, ca, "owner-", 1)[0]
	if _, err := agentsvc.Enroll(ctx, simAgent{owner}, v.client(t, ""), owner.HostID, fl.leaked, "", nil); err != nil {
		t.Errorf("the flood's token, after the flood, for a device of the trusted CA: %v", err)
	}
	before, during := run.check(t, floodStart, floodEnd)
	metrics := scrapeMetrics(t, v)
	for _, reason := range []string{"source_limited", "unauthorised", "untrusted_ek", "malformed"} {
		if !strings.Contains(metrics, `tep_enrollments_refused_total{reason="`+reason+`"} `) || strings.Contains(metrics, `tep_enrollments_refused_total{reason="`+reason+`"} 0`+"\n") {
			t.Errorf("/metrics counts no %s refusals", reason)
		}
	}
	secs := floodEnd.Sub(floodStart).Seconds()
	t.Logf("flood: %d enrolments answered in %.1f s (%.0f/s): %.1f%% 429, %d 403, %d 422, %d 400",
		fl.answered(), secs, float64(fl.answered())/secs, 100*float64(fl.codes[http.StatusTooManyRequests].Load())/float64(fl.answered()),
		fl.codes[http.StatusForbidden].Load(), fl.codes[http.StatusUnprocessableEntity].Load(), fl.codes[http.StatusBadRequest].Load())
	t.Logf("fleet of %d: evidence p99 %v before the flood (%d reports), %v during it (%d reports)", len(fleet), before.p99, before.n, during.p99, during.n)
	t.Logf("429s met by legitimate enrolments: the fleet's %d, at once, before the flood: %d; the late device's: %d; load generator: %d enrolled, p99 %v",
		len(fleet), fleet429.n.Load(), legit429, lg.Enrolled, lg.P99)
	for _, l := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(l, "tep_enrollments_refused_total{") || strings.Contains(l, `route="POST /v1/agent/enroll"`) {
			t.Log(l)
		}
	}
}

// simFleet makes n simulated devices certified by ca.
func simFleet(t *testing.T, ca *simdevice.CA, prefix string, n int) []*simdevice.Device {
	t.Helper()
	f, err := simdevice.New(simdevice.Config{Devices: n, HostPrefix: prefix, CA: ca})
	if err != nil {
		t.Fatal(err)
	}
	return f.Devices
}

// countRows counts a table's rows in the verifier's SQLite database,
// read-only beside the running verifier.
func countRows(t *testing.T, path, table string) int {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro&_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// count429 counts the 429 replies a client gets, and adds them to
// total when set.
type count429 struct {
	next  http.RoundTripper
	n     atomic.Int64
	total *atomic.Int64
}

func (c *count429) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusTooManyRequests {
		c.n.Add(1)
		if c.total != nil {
			c.total.Add(1)
		}
	}
	return resp, err
}

// attempt is one attestation of the fleet: when it started, its
// evidence POST's round trip, and its error.
type attempt struct {
	host    string
	at      time.Time
	latency time.Duration
	err     error
}

// fleetRun is the fleet attesting every fleetInterval, each device on
// its own client from the fleet's address.
type fleetRun struct {
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	devices  int
	mu       sync.Mutex
	attempts []attempt
}

func startFleet(t *testing.T, v *verifierProc, fleet []*simdevice.Device) *fleetRun {
	ctx, cancel := context.WithCancel(context.Background())
	r := &fleetRun{cancel: cancel, devices: len(fleet)}
	for _, d := range fleet {
		c := v.client(t, "")
		r.wg.Go(func() {
			tick := time.NewTicker(fleetInterval)
			defer tick.Stop()
			for {
				a := attempt{host: d.HostID, at: time.Now()}
				req, err := c.Challenge(ctx, d.HostID)
				if err == nil {
					ev, qerr := d.Evidence(req)
					t0 := time.Now()
					if err = qerr; err == nil {
						_, err = c.Evidence(ctx, ev)
						a.latency = time.Since(t0)
					}
				}
				a.err = err
				if ctx.Err() != nil {
					return
				}
				r.mu.Lock()
				r.attempts = append(r.attempts, a)
				r.mu.Unlock()
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
		})
	}
	t.Cleanup(r.stop)
	return r
}

func (r *fleetRun) stop() { r.cancel(); r.wg.Wait() }

// rounds is how many attempts the device with the fewest has made.
func (r *fleetRun) rounds() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	per := map[string]int{}
	for _, a := range r.attempts {
		per[a.host]++
	}
	if len(per) < r.devices {
		return 0
	}
	n := -1
	for _, c := range per {
		if n < 0 || c < n {
			n = c
		}
	}
	return n
}

// waitRounds waits until every device has made n attempts; the bound
// only ends a hung test.
func (r *fleetRun) waitRounds(t *testing.T, n int) {
	t.Helper()
	for end := time.Now().Add(5 * time.Minute); r.rounds() < n; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("the fleet made %d rounds, want %d", r.rounds(), n)
		}
	}
}

// window is the fleet's reports within a time window.
type window struct {
	n   int
	p99 time.Duration
}

// check fails the test for any failed attestation and for a device
// with no report during the flood, and returns the windows before and
// during it.
func (r *fleetRun) check(t *testing.T, from, to time.Time) (before, during window) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var lb, ld []time.Duration
	reported, seen := map[string]int{}, map[string]bool{}
	for _, a := range r.attempts {
		if a.err != nil {
			t.Errorf("%s's attestation at %s: %v", a.host, a.at.Format("15:04:05.000"), a.err)
			continue
		}
		first := !seen[a.host]
		seen[a.host] = true
		switch {
		case first:
			// A device's first report (a new connection, a TLS
			// handshake) is not counted.
		case a.at.Before(from):
			lb = append(lb, a.latency)
		case a.at.Before(to):
			ld = append(ld, a.latency)
			reported[a.host]++
		}
	}
	if len(reported) != r.devices {
		t.Errorf("%d of the fleet's %d devices got reports during the flood", len(reported), r.devices)
	}
	return window{len(lb), p99(lb)}, window{len(ld), p99(ld)}
}

func p99(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[max(0, (len(ds)*99+99)/100-1)]
}

// enrolFlood sends enrolments from unknown EKs, and worse, from several
// loopback addresses, counting the replies by status.
type enrolFlood struct {
	kinds  []floodKind
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	n      atomic.Int64
	codes  map[int]*atomic.Int64
	// noRetry counts the 429s without a Retry-After; other the replies
	// no flood should get, the first few of them kept.
	noRetry atomic.Int64
	mu      sync.Mutex
	other   []string
	// leaked is the enrolment token the flood uses with untrusted EKs.
	leaked string
}

// floodKind is what one flooding address sends, in turn.
type floodKind struct {
	name   string
	src    string
	bodies [][]byte
	client *api.Client
}

func newFlood(t *testing.T, v *verifierProc, ca, other *simdevice.CA) *enrolFlood {
	t.Helper()
	fl := &enrolFlood{codes: map[int]*atomic.Int64{}}
	unknown := simFleet(t, other, "unknown-", 256)
	notAllowed := simFleet(t, ca, "stranger-", 256)
	fl.leaked = v.enrolToken(t)
	leaked := fl.leaked
	bodies := func(ds []*simdevice.Device, token string) [][]byte {
		var out [][]byte
		for _, d := range ds {
			b, err := json.Marshal(api.EnrollBody{EnrollRequest: d.Enroll(token)})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
		return out
	}
	malformed := [][]byte{[]byte(`{"host_id":`), []byte(`{"host_id":"x","ek_cert":"AAAA"}`), []byte(`{"host_id":"../etc"}`)}
	for _, code := range []int{http.StatusTooManyRequests, http.StatusForbidden, http.StatusUnprocessableEntity, http.StatusBadRequest} {
		fl.codes[code] = new(atomic.Int64)
	}
	for i, k := range []struct {
		name   string
		bodies [][]byte
	}{
		{"another CA's EKs", bodies(unknown, "")}, {"another CA's EKs", bodies(unknown, "")},
		{"EKs not on the allow list", bodies(notAllowed, "")}, {"EKs not on the allow list", bodies(notAllowed, "")},
		{"a leaked token with another CA's EKs", bodies(unknown, leaked)},
		{"malformed", malformed}, {"malformed", malformed}, {"an unknown token", bodies(notAllowed, "tepv_guessed")},
	} {
		src := net.IPv4(127, 0, 0, byte(2+i)).String()
		c := v.client(t, "")
		tr := c.HTTP.Transport.(*http.Transport)
		tr.MaxIdleConnsPerHost = floodWorkers
		tr.DialContext = (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}).DialContext
		fl.kinds = append(fl.kinds, floodKind{name: k.name, src: src, bodies: k.bodies, client: c})
	}
	fl.ctx, fl.cancel = context.WithCancel(context.Background())
	t.Cleanup(fl.stop)
	return fl
}

func (fl *enrolFlood) start() {
	for _, k := range fl.kinds {
		for w := range floodWorkers {
			fl.wg.Go(func() { fl.send(k, w) })
		}
	}
}

// send posts k's bodies until the flood stops; the flooder never
// honours a Retry-After.
func (fl *enrolFlood) send(k floodKind, w int) {
	for i := w; fl.ctx.Err() == nil; i += floodWorkers {
		err := k.client.Do(fl.ctx, http.MethodPost, "/v1/agent/enroll", k.bodies[i%len(k.bodies)], nil)
		if fl.ctx.Err() != nil {
			return
		}
		fl.n.Add(1)
		code, _ := statusOf(err)
		var se *api.StatusError
		if errors.As(err, &se) && code == http.StatusTooManyRequests && se.RetryAfter < time.Second {
			fl.noRetry.Add(1)
		}
		if c, ok := fl.codes[code]; ok {
			c.Add(1)
			continue
		}
		fl.mu.Lock()
		if len(fl.other) < 5 {
			fl.other = append(fl.other, k.name+": "+errString(err))
		}
		fl.mu.Unlock()
	}
}

func (fl *enrolFlood) stop() { fl.cancel(); fl.wg.Wait() }

func (fl *enrolFlood) answered() int64 { return fl.n.Load() }

// waitAnswers waits until the flood has had n replies.
func (fl *enrolFlood) waitAnswers(n int64) {
	for fl.n.Load() < n && fl.ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
}

// check fails the test for a flood reply that is not a refusal, a 429
// without a Retry-After, or a flood never turned away.
func (fl *enrolFlood) check(t *testing.T) {
	t.Helper()
	if len(fl.other) > 0 {
		t.Errorf("flood replies other than 429, 403, 422 or 400: %q", fl.other)
	}
	if n := fl.noRetry.Load(); n > 0 {
		t.Errorf("%d 429s without a Retry-After", n)
	}
	if fl.codes[http.StatusTooManyRequests].Load() == 0 {
		t.Error("no flooder was turned away with 429")
	}
}

func errString(err error) string {
	if err == nil {
		return "accepted"
	}
	return err.Error()
}
