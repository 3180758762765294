package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"tep.dev/tep/attest/api"
	"tep.dev/tep/attest/loadgen"
	"tep.dev/tep/attest/simdevice"
	"tep.dev/tep/internal/natsd"
	"tep.dev/tep/internal/postgres"
)

// FleetConfig is the fleet benchmark's (issue 19's targets): fleets of
// devices attesting once a minute against tep-verifier serve on SQLite,
// on PostgreSQL, and as two replicas on one PostgreSQL.
type FleetConfig struct {
	// Build is the directory holding tep-verifier.
	Build string
	// Steps are the fleet sizes tried, ascending, in devices attesting
	// once a minute (default 2,000, 4,000, then by 2,000 to 12,000, and
	// 16,000); a set-up climbs them to its first step not sustained,
	// then bisects between that and the last sustained one.
	Steps []int
	// Resolution ends the bisection: the largest sustained and the
	// smallest failed size at most this far apart (default 500; zero
	// or less than Scale is Scale, one device).
	Resolution int
	// Scale shortens the interval: a step of N devices runs N/Scale
	// simulated devices each attesting every minute/Scale, the same
	// rate (default 30).
	Scale int
	// Duration is how long each step is measured (default 20 s), after
	// Warmup of pushing on schedule that is not counted (default 10 s;
	// negative for none).
	Duration, Warmup time.Duration
	// Retries is how many times a step not sustained is tried again
	// before the size counts as failed (default 1; negative for none).
	Retries int
	// ReplicaProcs, if positive, is each replica's GOMAXPROCS.
	ReplicaProcs int
	// Nice, if not zero, is the nice value of the replicas, PostgreSQL
	// and this process (the generator) while the set-ups run (renice).
	Nice int
	// IMAEntries and IMAStep are the devices' logs (default 5,000
	// growing by 50 a report).
	IMAEntries, IMAStep int
	// Setups are the set-ups to run, of "sqlite", "postgres",
	// "postgres-2", "nats" and "nats-postgres" (one replica pulling its
	// devices over NATS, on SQLite or PostgreSQL); default the first
	// three.
	Setups []string
	// Progress, if set, gets a line per step.
	Progress func(string)
}

// FleetStep is one fleet size on one set-up.
type FleetStep struct {
	Fleet    int           `json:"fleet"`
	Devices  int           `json:"devices"`
	Interval time.Duration `json:"interval_ns"`
	loadgen.Result
	// VerifierCPU is the replicas' CPU time while the devices pushed;
	// VerifierShare and GeneratorShare are the verifier's and the load
	// generator's CPU over that time as a fraction of the machine's
	// cores.
	VerifierCPU   time.Duration `json:"verifier_cpu_ns"`
	VerifierShare float64       `json:"verifier_share"`
	// DatabaseShare is PostgreSQL's (the postmaster, its processes and
	// those that ended) over the same time; zero on SQLite.
	DatabaseShare  float64 `json:"database_share,omitempty"`
	GeneratorShare float64 `json:"generator_share"`
	// MachineShare is every process's on the machine (/proc/stat):
	// what the verifier, PostgreSQL and the generator did not use of it
	// went to other work.
	MachineShare float64 `json:"machine_share"`
	// DBSessions and DBCommits are the PostgreSQL sessions opened and
	// transactions committed per attestation over the measured part: a
	// connection pool that keeps too few idle connections opens a
	// session, a new PostgreSQL process, for many of them.
	DBSessions float64 `json:"db_sessions_per_attestation,omitempty"`
	// CPUPerAttestation is the verifier's, PostgreSQL's and the
	// generator's CPU over the measured part per counted attestation;
	// CPUBound the fleet (devices a minute) that the machine's cores
	// could carry at that cost with nothing else running on them.
	CPUPerAttestation time.Duration `json:"cpu_per_attestation_ns,omitempty"`
	CPUBound          int           `json:"cpu_bound_fleet,omitempty"`
	DBCommits         float64       `json:"db_commits_per_attestation,omitempty"`
	Sustained         bool          `json:"sustained"`
	// Superseded marks a try not sustained that was tried again
	// (FleetConfig.Retries): the size's outcome is the last try's.
	Superseded bool   `json:"superseded,omitempty"`
	Err        string `json:"error,omitempty"`

	// NATSShare is the nats-server's, in the "nats" set-up.
	NATSShare float64 `json:"nats_share,omitempty"`
}

// FleetSetup is one set-up's steps and the largest fleet it sustained.
type FleetSetup struct {
	Name     string      `json:"name"`
	Replicas int         `json:"replicas"`
	Steps    []FleetStep `json:"steps"`
	Largest  int         `json:"largest_sustained"`
	Err      string      `json:"error,omitempty"`
}

// FleetResult is the benchmark's result. Ratio is the two replicas'
// largest sustained fleet over one replica's, both on PostgreSQL.
type FleetResult struct {
	Scale      int           `json:"scale"`
	Duration   time.Duration `json:"duration_ns"`
	Warmup     time.Duration `json:"warmup_ns"`
	Resolution int           `json:"resolution"`
	Retries    int           `json:"retries"`
	Nice       int           `json:"nice,omitempty"`
	Cores      int           `json:"cores"`
	// IMAEntries is the golden host's log, whose files the runtime
	// policy allows: as long as any step's devices' logs get.
	IMAEntries int          `json:"golden_ima_entries"`
	Setups     []FleetSetup `json:"setups"`
	Ratio      float64      `json:"replica_ratio,omitempty"`
	// Targets set the figures beside the fleet issue's targets.
	Targets []FleetTarget `json:"targets"`
}

// p99Target is the fleet target's latency bound.
const p99Target = time.Second

func (c FleetConfig) withDefaults() FleetConfig {
	if len(c.Steps) == 0 {
		c.Steps = []int{2000, 4000, 6000, 8000, 10000, 12000, 16000}
	}
	if c.Scale <= 0 {
		c.Scale = 30
	}
	if c.Duration <= 0 {
		c.Duration = 20 * time.Second
	}
	switch {
	case c.Warmup == 0:
		c.Warmup = 10 * time.Second
	case c.Warmup < 0:
		c.Warmup = 0
	}
	switch {
	case c.Retries == 0:
		c.Retries = 1
	case c.Retries < 0:
		c.Retries = 0
	}
	if c.Resolution == 0 {
		c.Resolution = 500
	}
	c.Resolution = max(c.Resolution, c.Scale)
	if c.IMAEntries <= 0 {
		c.IMAEntries = 5000
	}
	if c.IMAStep == 0 {
		c.IMAStep = 50
	}
	if len(c.Setups) == 0 {
		c.Setups = []string{"sqlite", "postgres", "postgres-2"}
	}
	if c.Progress == nil {
		c.Progress = func(string) {}
	}
	return c
}

// Fleet runs the fleet benchmark in dir.
func Fleet(dir string, cfg FleetConfig) (*FleetResult, error) {
	cfg = cfg.withDefaults()
	res := &FleetResult{Scale: cfg.Scale, Duration: cfg.Duration, Warmup: cfg.Warmup, Resolution: cfg.Resolution, Retries: cfg.Retries, Nice: cfg.Nice,
		Cores: runtime.NumCPU(), IMAEntries: goldenEntries(cfg)}
	if cfg.Nice != 0 {
		restore, err := reniceSelf(cfg.Nice)
		if err != nil {
			return res, err
		}
		defer restore()
	}
	largest := map[string]int{}
	for _, name := range cfg.Setups {
		s := fleetSetup(filepath.Join(dir, name), name, cfg)
		res.Setups = append(res.Setups, s)
		largest[name] = s.Largest
	}
	if largest["postgres"] > 0 && largest["postgres-2"] > 0 {
		res.Ratio = float64(largest["postgres-2"]) / float64(largest["postgres"])
	}
	res.Targets = fleetTargets(res.Setups, cfg.Nice < 0)
	for _, s := range res.Setups {
		if s.Err != "" {
			return res, fmt.Errorf("fleet %s: %s", s.Name, s.Err)
		}
	}
	return res, nil
}

// fleetSetup starts one set-up's verifier and steps its fleet up.
func fleetSetup(dir, name string, cfg FleetConfig) FleetSetup {
	s := FleetSetup{Name: name, Replicas: 1}
	if name == "postgres-2" {
		s.Replicas = 2
	}
	v, err := startFleetVerifier(dir, name, s.Replicas, cfg)
	if err != nil {
		s.Err = err.Error()
		return s
	}
	defer v.stop()
	v.climb(&s, cfg)
	return s
}

// fleetVerifier is tep-verifier serve, one or more replicas, with the
// EK CA its devices use, and PostgreSQL when it runs on it.
type fleetVerifier struct {
	pg    *postgres.Server
	reps  []*proc
	urls  []string
	cert  []byte
	admin string
	ca    *simdevice.CA
	// stopGolden stops the golden host's pull server (storeFlavors).
	stopGolden func()
	// steps counts the steps run, for their devices' host ids.
	steps int

	// nats, natsCA and serveArgs are the "nats" set-up's.
	nats      *natsd.Server
	natsCA    string
	serveArgs []string
}

func (v *fleetVerifier) stop() {
	if v.stopGolden != nil {
		v.stopGolden()
	}
	for _, r := range v.reps {
		r.stop()
	}
	if v.pg != nil {
		v.pg.Stop()
	}
	if v.nats != nil {
		v.nats.Stop()
	}
}

// startFleetVerifier starts replicas of tep-verifier serve from build
// on a database of its own, with an EK CA of its own in dir (and for
// the NATS set-up its nats-server, serve pulling every interval).
// The set-up then holds the flavors and runtime policy of the fleet
// (storeFlavors).
func startFleetVerifier(dir, name string, replicas int, cfg FleetConfig) (*fleetVerifier, error) {
	v := &fleetVerifier{}
	err := v.startNATS(dir, name, time.Minute/time.Duration(cfg.Scale))
	if err == nil {
		err = v.start(dir, name, cfg.Build, replicas, cfg.ReplicaProcs)
	}
	if err != nil {
		v.stop()
		return nil, err
	}
	if err := v.storeFlavors(dir, cfg.Build, goldenEntries(cfg)); err != nil {
		v.stop()
		return nil, fmt.Errorf("storing the fleet's flavors: %w", err)
	}
	if cfg.Nice != 0 {
		if err := v.renice(cfg.Nice); err != nil {
			v.stop()
			return nil, err
		}
	}
	return v, nil
}

func (v *fleetVerifier) start(dir, name, build string, replicas, procs int) (err error) {
	state := filepath.Join(dir, "state")
	if err := os.MkdirAll(state, 0o700); err != nil {
		return err
	}
	if v.ca, err = simdevice.NewCA(nil); err != nil {
		return err
	}
	if err := v.ca.Write(dir); err != nil {
		return err
	}
	db := "sqlite:" + filepath.Join(state, "verifier.db")
	if strings.Contains(name, "postgres") {
		// Durable: commits reach the disk, as the SQLite set-up's do.
		if v.pg, err = postgres.Start(postgres.Config{Log: filepath.Join(dir, "pg.log"), Durable: true}); err != nil {
			return err
		}
		db = v.pg.ConnString
	}
	bin := filepath.Join(build, "tep-verifier")
	out, err := exec.Command(bin, "token", "create", "--db", db, "--role", "admin", "--json").Output()
	if err != nil {
		return fmt.Errorf("tep-verifier token create: %w", err)
	}
	var tok struct{ Token string }
	if err := json.Unmarshal(out, &tok); err != nil || tok.Token == "" {
		return fmt.Errorf("tep-verifier token create printed %q", out)
	}
	v.admin = tok.Token
	var env []string
	if procs > 0 {
		env = append(os.Environ(), fmt.Sprint("GOMAXPROCS=", procs))
	}
	for i := range replicas {
		port, err := freePort()
		if err != nil {
			return err
		}
		args := []string{"serve", "--state", state, "--db", db, "--replica", fmt.Sprint("r", i), "--listen", "127.0.0.1:" + port,
			"--ek-ca", filepath.Join(dir, simdevice.CACertFile), "--pull-interval", "0", "--log-level", "warn", "--san", "127.0.0.1",
			// The benchmark measures attestation: its fleet enrols unthrottled.
			"--enroll-rate", "0"}
		p, err := startProc(filepath.Join(dir, fmt.Sprintf("verifier-%d.log", i)), env, bin, append(args, v.serveArgs...)...)
		if err != nil {
			return err
		}
		v.reps = append(v.reps, p)
		v.urls = append(v.urls, "https://127.0.0.1:"+port)
		if err := v.waitUp(p, state, v.urls[i]); err != nil {
			return err
		}
	}
	return nil
}

// waitUp waits until replica p at url answers its health check.
func (v *fleetVerifier) waitUp(p *proc, state, url string) error {
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if p.exited() {
			return p.failure("tep-verifier serve")
		}
		cert, err := os.ReadFile(filepath.Join(state, "tls-cert.pem"))
		if err != nil {
			continue
		}
		c, err := api.NewClient(url, cert, nil)
		if err == nil && c.Do(context.Background(), "GET", "/v1/health", nil, nil) == nil {
			v.cert = cert
			return nil
		}
	}
	return errors.New("tep-verifier serve did not answer within 30 s")
}

// step runs a fleet of n devices a minute, scaled: the devices enrol and
// send their first report, push for cfg.Warmup, then are measured for
// cfg.Duration.
func (v *fleetVerifier) step(n int, cfg FleetConfig) FleetStep {
	v.steps++ // each step's devices are new hosts
	st := FleetStep{Fleet: n, Devices: max(n/cfg.Scale, 1), Interval: time.Minute / time.Duration(cfg.Scale)}
	var cpu0, db0, busy0, all0, nats0 time.Duration
	var pg0 pgCounts
	lc := loadgen.Config{
		Devices: st.Devices, HostPrefix: fmt.Sprintf("s%d-n%d-", v.steps, n), Verifiers: v.urls, VerifierCert: v.cert,
		AdminToken: v.admin, CA: v.ca, Interval: st.Interval, IMAEntries: cfg.IMAEntries, IMAStep: cfg.IMAStep,
		Warmup: cfg.Warmup, Duration: cfg.Duration,
		Pushing: func() {
			cpu0, db0, nats0, pg0 = v.cpu(), v.dbCPU(), v.natsCPU(), v.dbCounts()
			busy0, all0 = machineCPU()
		},
	}
	v.natsConfig(&lc)
	res, err := loadgen.Run(context.Background(), lc)
	st.Result = res
	if err != nil {
		st.Err = err.Error()
		return st
	}
	st.VerifierCPU = v.cpu() - cpu0
	db := v.dbCPU() - db0
	if pg := v.dbCounts(); res.Attested > 0 && pg.commits > 0 {
		st.DBSessions = float64(pg.sessions-pg0.sessions-1) / float64(res.Attested)
		st.DBCommits = float64(pg.commits-pg0.commits) / float64(res.Attested)
	}
	busy, all := machineCPU()
	if all > all0 {
		st.MachineShare = (busy - busy0).Seconds() / (all - all0).Seconds()
	}
	if wall := res.Elapsed.Seconds() * float64(runtime.NumCPU()); wall > 0 {
		st.VerifierShare = st.VerifierCPU.Seconds() / wall
		st.DatabaseShare = db.Seconds() / wall
		st.GeneratorShare = res.PushCPU.Seconds() / wall
		st.NATSShare = (v.natsCPU() - nats0).Seconds() / wall
	}
	if res.Attested > 0 {
		st.CPUPerAttestation = (st.VerifierCPU + db + res.PushCPU) / time.Duration(res.Attested)
	}
	if st.CPUPerAttestation > 0 {
		st.CPUBound = int(60 * float64(runtime.NumCPU()) / st.CPUPerAttestation.Seconds())
	}
	if res.Mode == "nats" {
		st.Sustained = natsSustained(st)
	} else {
		// Sustained: every device reported, nothing failed or was
		// skipped, at least 90% of the pushes due in the measured time
		// done (those still running at its end are cut off, not
		// counted), and p99 under the target.
		want := float64(st.Devices) * cfg.Duration.Seconds() / st.Interval.Seconds()
		st.Sustained = res.Reported == st.Devices && res.Failed == 0 && res.Missed == 0 &&
			float64(res.Attested) >= 0.9*want && res.P99 < p99Target
	}
	// The devices run what the flavors allow: an untrusted report is
	// the bench's error (flavors or policy not covering the fleet, or a
	// verifier that stopped appraising them), not a figure.
	if res.Trusted != res.Attested {
		st.Sustained = false
		st.Err = fmt.Sprintf("%d of %d reports untrusted (%s)", res.Attested-res.Trusted, res.Attested, v.untrustedSample())
	}
	return st
}

// cpu is the replicas' user and system time so far.
func (v *fleetVerifier) cpu() time.Duration {
	var total time.Duration
	for _, r := range v.reps {
		total += procCPU(r.pid(), false)
	}
	return total
}

// dbCPU is PostgreSQL's user and system time so far: the postmaster's,
// its processes' that ended, and its running processes'.
func (v *fleetVerifier) dbCPU() time.Duration {
	if v.pg == nil {
		return 0
	}
	pid := v.pg.Pid()
	total := procCPU(pid, true)
	kids, _ := children(pid)
	for _, k := range kids {
		total += procCPU(k, true)
	}
	return total
}

// procCPU is process pid's user and system time (stat(5) fields 14 and
// 15, in clock ticks of USER_HZ, 100 on Linux), with its waited-for
// children's (fields 16 and 17) when reaped is true.
func procCPU(pid int, reaped bool) time.Duration {
	f, err := statFields(pid)
	if err != nil {
		return 0
	}
	n := 2
	if reaped {
		n = 4
	}
	var ticks int64
	for _, x := range f[11 : 11+n] {
		t, _ := strconv.ParseInt(x, 10, 64)
		ticks += t
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
}
