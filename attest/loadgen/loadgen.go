package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"syscall"
	"time"

	"tep.dev/tep/attest/api"
	"tep.dev/tep/attest/ima/imagen"
	"tep.dev/tep/attest/natsquote"
	"tep.dev/tep/attest/simdevice"
)

// Config says what load to make. Verifiers, VerifierCert, CA and one of
// AdminToken or EnrollTokens are required; the rest have defaults.
type Config struct {
	// Devices is how many devices to simulate.
	Devices int
	// HostPrefix starts every host id ("sim-" when empty); give each
	// run on one verifier its own, or the hosts of the last run are
	// enrolled with other EKs already.
	HostPrefix string
	// Verifiers are the base URLs of the verifier's replicas (one
	// certificate, VerifierCert, PEM, pinned for all): device i pushes
	// to Verifiers[i % len(Verifiers)].
	Verifiers    []string
	VerifierCert []byte
	// AdminToken puts every device's EK on the verifier's allow list
	// (POST /v1/ek-allow), so that the devices enrol without a token.
	AdminToken string
	// EnrollTokens are one-time enrolment tokens, one a device, used
	// instead of the allow list when there are at least Devices of them.
	EnrollTokens []string
	// CA is the EK CA that the verifier trusts (its --ek-ca).
	CA *simdevice.CA
	// Interval is how often each device attests (default one minute).
	Interval time.Duration
	// IMAEntries is each device's IMA log at its first report (default
	// 5,000); IMAStep how many entries it grows by a report (default
	// 50; negative for none).
	IMAEntries, IMAStep int
	// Duration is how long devices push after enrolling; zero runs
	// until ctx ends.
	Duration time.Duration
	// EnrollParallel bounds enrolments at a time (default 8).
	EnrollParallel int
	// Pushing, if set, is called once when the devices start pushing on
	// their schedule (after their enrolments and first reports), or in
	// NATS mode when the timed part starts: a benchmark reads the
	// verifier's CPU time there.
	Pushing func()
	// NATS, with its URL set, runs the devices in NATS mode: each
	// connects to the NATS server with these options (one connection a
	// device, as each agent keeps its own), enrols with the pull URL
	// natsquote.URL(host), and answers the verifier's quote requests;
	// the verifier's pull schedule (serve --nats --pull-interval, which
	// should equal Interval) drives the attestations. AdminToken is
	// then required: the run reads the verifier's /metrics and reports.
	NATS natsquote.ConnConfig
	// KeepHosts leaves a NATS run's hosts on the verifier when it ends;
	// by default they are deleted, or the verifier would keep pulling
	// devices that are gone.
	KeepHosts bool
}

// Result is what a run measured. In push mode, latencies are
// client-side round trips of the evidence POSTs that were answered (the
// verifier's appraisal, storage and signing, and the network), not of
// the challenge before them; an attestation is bounded by the interval,
// and one that runs out of it is Failed and has no latency.
//
// In NATS mode the verifier attests on its own schedule, and the figures
// are the verifier's over the timed part: P50, P95 and P99 are
// estimated from the difference of its tep_verification_seconds
// histogram (appraisal and report signing) before and after, by linear
// interpolation within the bucket that holds the rank (as Prometheus'
// histogram_quantile), so they are only as fine as its buckets; Max is
// the upper bound of the highest bucket that got an observation. The
// histogram leaves out the NATS round trip and the store's writes,
// which push mode's round trips include.
// Attested and Trusted count the reports stored for the devices' hosts
// in the timed part (GET /v1/reports); Missed and Late come from the
// gaps between a device's reports (see Late).
type Result struct {
	// Mode is "push" (HTTPS) or "nats".
	Mode     string `json:"mode"`
	Devices  int    `json:"devices"`
	Enrolled int    `json:"enrolled"`
	// Attested counts evidence POSTs answered with a report; Trusted
	// those of them whose report was trusted; Failed the attestations
	// (challenge, quote or evidence) that got an error. In NATS mode
	// Failed counts the quotes the devices could not make and the
	// verifier's appraisals that were rejected or failed (Rejected,
	// from tep_attestations_total, whichever hosts they were of).
	Attested int `json:"attested"`
	Trusted  int `json:"trusted"`
	Failed   int `json:"failed"`
	Rejected int `json:"rejected,omitempty"`
	// Quotes counts the quote requests the devices answered in NATS
	// mode's timed part: more than Attested when evidence was refused
	// or a pull timed out before it arrived.
	Quotes int `json:"quotes,omitempty"`
	// Missed counts pushes that were due while the device's previous one
	// was still running, and so were skipped. In NATS mode it counts
	// the intervals without a report: a gap of k whole intervals (k >=
	// 2) between a device's reports, the timed part's start and end
	// counting as reports, missed k-1.
	Missed int `json:"missed"`
	// Late counts the devices (NATS mode) that went two intervals or
	// more without a report: zero when every device was attested
	// within two intervals. MaxGap is the longest such gap.
	Late   int           `json:"late_devices"`
	MaxGap time.Duration `json:"max_gap_ns,omitempty"`
	// Reported is how many devices got at least one report.
	Reported int `json:"reported_devices"`
	// Rate is attestations per second while pushing.
	Rate float64 `json:"rate_per_s"`
	// P50, P95, P99 and Max are evidence round-trip latencies.
	P50 time.Duration `json:"p50_ns"`
	P95 time.Duration `json:"p95_ns"`
	P99 time.Duration `json:"p99_ns"`
	Max time.Duration `json:"max_ns"`
	// Elapsed is the time spent pushing; CPU the generator's own user
	// and system time over the whole run (device making included);
	// PushCPU over the pushing only.
	Elapsed time.Duration `json:"elapsed_ns"`
	CPU     time.Duration `json:"cpu_ns"`
	PushCPU time.Duration `json:"push_cpu_ns"`
	// Errors are the first few distinct failures.
	Errors []string `json:"errors,omitempty"`
}

// maxErrors bounds Result.Errors.
const maxErrors = 10

// withDefaults returns a copy of cfg with its defaults, or an error for
// a config that cannot run.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Interval == 0 {
		cfg.Interval = time.Minute
	}
	if cfg.IMAEntries == 0 {
		cfg.IMAEntries = 5000
	}
	switch {
	case cfg.IMAStep == 0:
		cfg.IMAStep = 50
	case cfg.IMAStep < 0:
		cfg.IMAStep = 0
	}
	if cfg.EnrollParallel <= 0 {
		cfg.EnrollParallel = 8
	}
	switch {
	case cfg.Devices <= 0:
		return cfg, fmt.Errorf("loadgen: %d devices", cfg.Devices)
	case cfg.Interval < 0 || cfg.Duration < 0 || cfg.IMAEntries < 0:
		return cfg, errors.New("loadgen: negative interval, duration or IMA log")
	case len(cfg.Verifiers) == 0 || slices.Contains(cfg.Verifiers, "") || len(cfg.VerifierCert) == 0:
		return cfg, errors.New("loadgen: the verifier's URL and certificate are required")
	case cfg.CA == nil:
		return cfg, errors.New("loadgen: the EK CA is required")
	case cfg.NATS.URL != "" && cfg.AdminToken == "":
		return cfg, errors.New("loadgen: NATS mode needs an operator's token to read the verifier's metrics and reports")
	case cfg.AdminToken == "" && len(cfg.EnrollTokens) < cfg.Devices:
		return cfg, fmt.Errorf("loadgen: an admin token, or %d enrolment tokens (have %d)", cfg.Devices, len(cfg.EnrollTokens))
	}
	return cfg, nil
}

// Run makes the devices, enrols them and has them push (or, in NATS
// mode, answer the verifier's pulls) until cfg.Duration has passed or
// ctx ends. An error means the run could not start (no device made, an
// enrolment refused, a device that could not subscribe on NATS) or, in
// NATS mode, that the verifier's figures could not be read; failed
// attestations are counted in the Result instead.
func Run(ctx context.Context, cfg Config) (Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Result{}, err
	}
	cpu0 := cpuTime()
	gen, err := imagen.New(imagen.Config{Banks: []string{"sha256", "sha384"}, Seed: 19})
	if err != nil {
		return Result{}, err
	}
	fleet, err := simdevice.New(simdevice.Config{
		Devices: cfg.Devices, HostPrefix: cfg.HostPrefix, CA: cfg.CA,
		IMA: gen, IMAEntries: cfg.IMAEntries, IMAStep: cfg.IMAStep,
	})
	if err != nil {
		return Result{}, fmt.Errorf("making devices: %w", err)
	}
	res := Result{Mode: "push", Devices: cfg.Devices}
	if cfg.NATS.URL != "" {
		res.Mode = "nats"
		err := runNATS(ctx, cfg, fleet, &res)
		res.CPU = cpuTime() - cpu0
		return res, err
	}
	clients, err := enrollAll(ctx, cfg, fleet)
	res.Enrolled = len(clients)
	if err != nil {
		res.CPU = cpuTime() - cpu0
		return res, err
	}
	push(ctx, cfg, fleet, clients, &res)
	res.CPU = cpuTime() - cpu0
	return res, nil
}

// newClient returns a client of its own for one device, as each device
// runs its own agent (its own connection and TLS session).
func newClient(cfg Config, url string) (*api.Client, error) {
	c, err := api.NewClient(url, cfg.VerifierCert, nil)
	if err != nil {
		return nil, fmt.Errorf("verifier certificate: %w", err)
	}
	c.HTTP.Transport.(*http.Transport).MaxIdleConnsPerHost = 1
	return c, nil
}

// enrollAll enrols every device, cfg.EnrollParallel at a time, and
// returns their clients; it stops at the first refusal.
func enrollAll(ctx context.Context, cfg Config, fleet *simdevice.Fleet) ([]*api.Client, error) {
	admin, err := newClient(cfg, cfg.Verifiers[0])
	if err != nil {
		return nil, err
	}
	admin.Token = cfg.AdminToken
	clients := make([]*api.Client, len(fleet.Devices))
	sem := make(chan struct{}, cfg.EnrollParallel)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for i, d := range fleet.Devices {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			token := ""
			if len(cfg.EnrollTokens) >= len(fleet.Devices) {
				token = cfg.EnrollTokens[i]
			}
			c, err := enroll(ctx, cfg, cfg.Verifiers[i%len(cfg.Verifiers)], admin, d, token)
			if err != nil {
				once.Do(func() { first = fmt.Errorf("enrolling %s: %w", d.HostID, err); cancel() })
				return
			}
			clients[i] = c
		})
	}
	wg.Wait()
	if first != nil {
		// The devices that enrolled before the refusal (their indices no
		// longer match the devices').
		return slices.DeleteFunc(clients, func(c *api.Client) bool { return c == nil }), first
	}
	return clients, nil
}

// enroll allows d's EK (without a token) and enrols and activates d.
// The device's client reaches url.
func enroll(ctx context.Context, cfg Config, url string, admin *api.Client, d *simdevice.Device, token string) (*api.Client, error) {
	req := d.Enroll(token)
	if token == "" {
		if err := admin.Do(ctx, http.MethodPost, "/v1/ek-allow", api.EKAllowBody{EKPublic: req.EKPublic}, nil); err != nil {
			return nil, fmt.Errorf("allowing its EK: %w", err)
		}
	}
	c, err := newClient(cfg, url)
	if err != nil {
		return nil, err
	}
	b := api.EnrollBody{EnrollRequest: req}
	if cfg.NATS.URL != "" {
		b.PullURL = natsquote.URL(d.HostID)
	}
	ch, err := c.Enroll(ctx, b)
	if err != nil {
		return nil, err
	}
	act, err := d.Activate(ch)
	if err != nil {
		return nil, err
	}
	if _, err := c.Activate(ctx, act); err != nil {
		return nil, err
	}
	return c, nil
}

// cpuTime is this process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
