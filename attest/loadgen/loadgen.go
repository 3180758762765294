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
	// Warmup is how long the devices push on their schedule before the
	// run starts counting: pushes due in it are made but neither timed
	// nor counted, so that a measurement starts from a verifier already
	// at the load (caches, connections, the heap's size). Duration
	// comes after it.
	Warmup time.Duration
	// Pushing, if set, is called once when the run starts counting
	// (after the enrolments, the first reports and Warmup): a benchmark
	// reads the verifier's CPU time there.
	Pushing func()
}

// Result is what a run measured. Latencies are client-side round trips
// of the evidence POSTs that were answered (the verifier's appraisal,
// storage and signing, and the network), not of the challenge before
// them; an attestation is bounded by the interval, and one that runs out
// of it is Failed and has no latency.
type Result struct {
	Devices  int `json:"devices"`
	Enrolled int `json:"enrolled"`
	// Attested counts evidence POSTs answered with a report; Trusted
	// those of them whose report was trusted; Failed the attestations
	// (challenge, quote or evidence) that got an error.
	Attested int `json:"attested"`
	Trusted  int `json:"trusted"`
	Failed   int `json:"failed"`
	// Missed counts pushes that were due while the device's previous one
	// was still running, and so were skipped.
	Missed int `json:"missed"`
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
	case cfg.Interval < 0 || cfg.Duration < 0 || cfg.Warmup < 0 || cfg.IMAEntries < 0:
		return cfg, errors.New("loadgen: negative interval, duration or IMA log")
	case len(cfg.Verifiers) == 0 || slices.Contains(cfg.Verifiers, "") || len(cfg.VerifierCert) == 0:
		return cfg, errors.New("loadgen: the verifier's URL and certificate are required")
	case cfg.CA == nil:
		return cfg, errors.New("loadgen: the EK CA is required")
	case cfg.AdminToken == "" && len(cfg.EnrollTokens) < cfg.Devices:
		return cfg, fmt.Errorf("loadgen: an admin token, or %d enrolment tokens (have %d)", cfg.Devices, len(cfg.EnrollTokens))
	}
	return cfg, nil
}

// Run makes the devices, enrols them and has them push until
// cfg.Duration has passed or ctx ends. An error means the run could not
// start (no device made, or an enrolment refused); failed attestations
// are counted in the Result instead.
func Run(ctx context.Context, cfg Config) (Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Result{}, err
	}
	cpu0 := cpuTime()
	gen, err := NewIMALog()
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
	res := Result{Devices: cfg.Devices}
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
		n := 0
		for _, c := range clients {
			if c != nil {
				n++
			}
		}
		return clients[:n], first
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
	ch, err := c.Enroll(ctx, api.EnrollBody{EnrollRequest: req})
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
