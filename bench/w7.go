package bench

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"tep.dev/tep/internal/swtpm"
)

// The targets W7 and Soak report their figures against. Nothing asserts
// them: the reader compares.
const (
	// TargetVsRaw is the least aggregate rate through TEP, as a share
	// of the raw TPM's single-stream rate.
	TargetVsRaw = 0.9
	// TargetPortShare is the least rate of the slowest port, as a share
	// of the mean port's.
	TargetPortShare = 0.5
	// TargetRSSIdleKiB and TargetRSSLoadKiB bound tepd's VmRSS idle and
	// under W7's load.
	TargetRSSIdleKiB = 30 << 10
	TargetRSSLoadKiB = 60 << 10
	// TargetRSSGrowth bounds the growth of tepd's VmRSS over a soak.
	TargetRSSGrowth = 0.10
)

// rssEvery is how often W7 and Soak read tepd's VmRSS.
const rssEvery = 100 * time.Millisecond

// hostStarts is how many hosts start at once: each loads a Go shared
// library, and the machines this runs on may have two cores.
const hostStarts = 4

// W7Config configures W7. Dir must be set; every other zero value picks
// the default.
type W7Config struct {
	// Dir holds tepd's state, the swtpm states and the logs. The
	// caller creates and removes it.
	Dir string
	// Build is the directory with tepd and libtep_interface.so; default
	// "build".
	Build string
	// Ports is how many of tepd's six ports the processes use; default 6.
	Ports int
	// Procs is how many processes sign on each port; default 4.
	Procs int
	// Duration is how long they sign, and the raw TPM after them;
	// default 10 s.
	Duration time.Duration
	// Mech is "ecdsa" (CKM_ECDSA on a 32-byte digest with a P-256 key,
	// the default) or "rsa" (CKM_SHA256_RSA_PKCS on 64 bytes with an
	// RSA-2048 key).
	Mech string
	// Host is as in P11Config.
	Host []string
	// SharedCPU runs both swtpms at the clients' priority instead of
	// ChipNice.
	SharedCPU bool
}

// withDefaults returns a copy of c with the defaults filled in, and the
// directory, build and host settings as P11 takes them.
func (c W7Config) withDefaults() (W7Config, w7Mech, P11Config, error) {
	pc, err := P11Config{Dir: c.Dir, Build: c.Build, Host: c.Host}.withDefaults()
	if err != nil {
		return c, w7Mech{}, pc, err
	}
	c.Ports, c.Procs = orDefault(c.Ports, 6), orDefault(c.Procs, 4)
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.Mech == "" {
		c.Mech = "ecdsa"
	}
	if c.Ports > 6 {
		return c, w7Mech{}, pc, fmt.Errorf("%d ports: tepd serves 6", c.Ports)
	}
	m, ok := w7MechNamed(c.Mech)
	if !ok || m.name != c.Mech {
		return c, m, pc, fmt.Errorf("mechanism %q: want ecdsa or rsa", c.Mech)
	}
	return c, m, pc, nil
}

// W7Port is what the processes on one port did together.
type W7Port struct {
	Port    string  `json:"port"`
	Procs   int     `json:"procs"`
	Calls   int     `json:"calls"`
	OpsPerS float64 `json:"ops_per_s"`
}

// W7Proc is what one process did: its signatures over its own time.
type W7Proc struct {
	Port    string  `json:"port"`
	Calls   int     `json:"calls"`
	Errors  int     `json:"errors"`
	OpsPerS float64 `json:"ops_per_s"`
	Err     string  `json:"error,omitempty"`
}

// W7Result is everything one W7 run measured.
type W7Result struct {
	Mech         string  `json:"mech"`
	Workload     string  `json:"workload"`
	Ports        int     `json:"ports"`
	ProcsPerPort int     `json:"procs_per_port"`
	DurationS    float64 `json:"duration_s"`
	// WallS runs from sending the processes their request to the last
	// reply; OpsPerS is Calls, the signatures of all, over it.
	WallS   float64 `json:"wall_s"`
	Calls   int     `json:"calls"`
	OpsPerS float64 `json:"ops_per_s"`
	// The raw TPM, one stream, alone on its own swtpm after TEP's run:
	// RawCalls over the duration, and TEP's aggregate over that
	// (target TargetVsRaw).
	RawCalls   int     `json:"raw_calls"`
	RawOpsPerS float64 `json:"raw_ops_per_s"`
	RawErr     string  `json:"raw_error,omitempty"`
	VsRaw      float64 `json:"vs_raw,omitempty"`
	// SWTPMNice is the nice value both swtpms ran at (ChipNice, or 0
	// with SharedCPU); SWTPMNiceErr says why it could not be set.
	SWTPMNice    int    `json:"swtpm_nice"`
	SWTPMNiceErr string `json:"swtpm_nice_error,omitempty"`
	// Errors is the failed calls of all processes (target 0), and of a
	// process that stopped answering one more; FirstError the first.
	Errors     int    `json:"errors"`
	FirstError string `json:"first_error,omitempty"`
	// PerPort are the ports in order; LowestPortShare is the slowest
	// port's rate over the mean port's (target TargetPortShare).
	PerPort         []W7Port `json:"per_port"`
	LowestPortShare float64  `json:"lowest_port_share"`
	ProcMinOpsPerS  float64  `json:"proc_min_ops_per_s"`
	ProcMaxOpsPerS  float64  `json:"proc_max_ops_per_s"`
	// MedianNs and P99Ns are over every successful call of every
	// process, from C_SignInit to C_Sign's return.
	MedianNs int64 `json:"median_ns"`
	P99Ns    int64 `json:"p99_ns"`
	// tepd's VmRSS right after it started, all its ports open (target
	// TargetRSSIdleKiB), and the most read while the processes signed
	// (target TargetRSSLoadKiB), every rssEvery.
	RSSIdleKiB int64    `json:"tepd_rss_idle_kib"`
	RSSMaxKiB  int64    `json:"tepd_rss_max_kib"`
	PerProc    []W7Proc `json:"per_process"`
}

// W7 measures many processes signing at once through one tepd on swtpm:
// Procs processes on each of Ports ports of tepd, host processes as in
// P11, each logged in, sign with one token key pair for Duration, all
// starting together. Then, with tepd and the hosts stopped so that
// nothing competes for the CPU, the raw TPM (see rawTPM) signs in one
// stream on an swtpm of its own for as long: the rate the TPM itself
// gives one caller. Both swtpms run at ChipNice unless cfg.SharedCPU.
// W7 starts the swtpms, tepd and the hosts and stops them all before it
// returns. It returns an error, and no result, when the run could not be
// set up; the raw TPM failing goes into the result.
func W7(cfg W7Config) (*W7Result, error) {
	c, m, pc, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	res := &W7Result{Mech: m.name, Workload: m.work, Ports: c.Ports, ProcsPerPort: c.Procs, DurationS: c.Duration.Seconds()}
	nice := ChipNice
	if c.SharedCPU {
		nice = 0
	}
	r := &rig{dir: pc.Dir}
	defer r.stop()
	sw, t, err := r.w7Server(pc.Build, nice)
	if err != nil {
		return nil, err
	}
	if sw.NiceErr != nil {
		res.SWTPMNiceErr = sw.NiceErr.Error()
	} else {
		res.SWTPMNice = nice
	}
	if res.RSSIdleKiB, err = vmRSS(t.Pid()); err != nil {
		return nil, err
	}
	if err := w7SetUp(pc, t, m.keyStep); err != nil {
		return nil, err
	}
	n := c.Ports * c.Procs
	hosts, err := r.w7Hosts(pc, t, c.Ports, n)
	if err != nil {
		return nil, err
	}
	// Ready: the key found and one signature made, untimed.
	reps, errs := requestAll(hosts, hostRequest{Workload: m.work, Calls: 1})
	if err := firstFailure(hosts, reps, errs); err != nil {
		return nil, fmt.Errorf("warming up: %w", err)
	}
	stopRSS := sampleRSS(t.Pid(), rssEvery)
	start := time.Now()
	reps, errs = requestAll(hosts, hostRequest{Workload: m.work, Seconds: c.Duration.Seconds()})
	wall := time.Since(start)
	res.RSSMaxKiB = maxRSS(stopRSS(), 0, wall+time.Second)
	res.tally(t.Ports[:c.Ports], reps, errs, wall)
	// The raw TPM runs alone.
	r.stop()
	res.RawCalls, res.RawOpsPerS, err = rawRate(pc.Dir, m.rawWork, c.Duration, nice)
	if err != nil {
		res.RawErr = err.Error()
	} else if res.RawOpsPerS > 0 {
		res.VsRaw = res.OpsPerS / res.RawOpsPerS
	}
	return res, nil
}

// tally fills in res from the replies of the hosts, host i on port
// i % len(ports).
func (res *W7Result) tally(ports []string, reps []hostReply, errs []error, wall time.Duration) {
	res.WallS = wall.Seconds()
	res.PerPort = make([]W7Port, len(ports))
	for i, p := range ports {
		res.PerPort[i].Port = filepath.Base(p)
	}
	var all Sample
	for i, rep := range reps {
		p := &res.PerPort[i%len(ports)]
		proc := W7Proc{Port: p.Port, Calls: len(rep.Ns), Errors: rep.Errors, Err: rep.Err}
		if errs[i] != nil {
			proc.Errors++
			proc.Err = errs[i].Error()
		}
		if rep.ElapsedNs > 0 {
			proc.OpsPerS = float64(proc.Calls) / time.Duration(rep.ElapsedNs).Seconds()
		}
		if res.FirstError == "" {
			res.FirstError = proc.Err
		}
		res.Errors += proc.Errors
		res.Calls += proc.Calls
		p.Procs++
		p.Calls += proc.Calls
		for _, ns := range rep.Ns {
			all = append(all, time.Duration(ns))
		}
		res.PerProc = append(res.PerProc, proc)
	}
	res.OpsPerS = float64(res.Calls) / wall.Seconds()
	res.MedianNs, res.P99Ns = int64(all.Median()), int64(all.P99())
	lowest := -1.0
	for i := range res.PerPort {
		p := &res.PerPort[i]
		p.OpsPerS = float64(p.Calls) / wall.Seconds()
		if lowest < 0 || p.OpsPerS < lowest {
			lowest = p.OpsPerS
		}
	}
	if mean := res.OpsPerS / float64(len(ports)); mean > 0 {
		res.LowestPortShare = lowest / mean
	}
	for i, p := range res.PerProc {
		if i == 0 || p.OpsPerS < res.ProcMinOpsPerS {
			res.ProcMinOpsPerS = p.OpsPerS
		}
		res.ProcMaxOpsPerS = max(res.ProcMaxOpsPerS, p.OpsPerS)
	}
}

// w7Server starts the swtpm (at nice value nice) and the tepd that W7 and
// Soak run on, tepd with serveFlags added to its serve command.
func (r *rig) w7Server(build string, nice int, serveFlags ...string) (*swtpm.Process, *tepd, error) {
	sw, err := startSWTPM(r.dir, "swtpm-w7", nice, false)
	if err != nil {
		return nil, nil, err
	}
	r.onStop(sw.Stop)
	t, err := startTEPD(r.dir, "tepd-w7", build, sw.Spec, serveFlags...)
	if err != nil {
		return nil, nil, err
	}
	r.onStop(t.stop)
	return sw, t, nil
}

// w7Host starts a host called name on t's port, logged in.
func w7Host(c P11Config, t *tepd, name string, port int) (*host, error) {
	h, err := startHost(c.Dir, name, c.Host, t.so, []string{"TEC_COMM_PORT=" + t.Ports[port]})
	if err != nil {
		return nil, err
	}
	msg := h.hello.InitErr
	if msg == "" {
		msg = h.hello.Err
	}
	if msg == "" {
		return h, nil
	}
	h.stop()
	return nil, fmt.Errorf("host %s: %s", name, msg)
}

// w7SetUp runs steps in a host of their own on t's first port, which
// then logs out and ends.
func w7SetUp(c P11Config, t *tepd, steps ...string) error {
	h, err := w7Host(c, t, "setup", 0)
	if err != nil {
		return err
	}
	defer h.stop()
	for _, step := range steps {
		rep, err := h.request(hostRequest{Workload: step})
		if err == nil && rep.Err != "" {
			err = errors.New(rep.Err)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", step, err)
		}
	}
	return nil
}

// w7Hosts starts n hosts on t, host i on port i % ports, hostStarts at
// a time, for r to stop.
func (r *rig) w7Hosts(c P11Config, t *tepd, ports, n int) ([]*host, error) {
	hosts := make([]*host, n)
	errs := make([]error, n)
	sem := make(chan struct{}, hostStarts)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			hosts[i], errs[i] = w7Host(c, t, fmt.Sprintf("w7-%d", i), i%ports)
		})
	}
	wg.Wait()
	for _, h := range hosts {
		if h != nil {
			r.onStop(h.stop)
		}
	}
	return hosts, errors.Join(errs...)
}

// requestAll sends req to every host at once and waits for every reply.
func requestAll(hosts []*host, req hostRequest) ([]hostReply, []error) {
	reps := make([]hostReply, len(hosts))
	errs := make([]error, len(hosts))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Go(func() {
			<-start
			reps[i], errs[i] = h.request(req)
		})
	}
	close(start)
	wg.Wait()
	return reps, errs
}

// firstFailure returns the first failed request or reply, naming its
// host.
func firstFailure(hosts []*host, reps []hostReply, errs []error) error {
	for i, h := range hosts {
		if errs[i] != nil {
			return errs[i]
		}
		if reps[i].Err != "" {
			return fmt.Errorf("host %s: %s", h.name, reps[i].Err)
		}
	}
	return nil
}

// rawRate runs the raw TPM's operation w in one stream for d, after one
// untimed call, and returns the calls and their rate.
func rawRate(dir, w string, d time.Duration, nice int) (int, float64, error) {
	raw, err := startRawTPM(dir, nice)
	if err != nil {
		return 0, 0, fmt.Errorf("raw TPM: %w", err)
	}
	defer raw.stop()
	call := raw.call(w)
	if call == nil {
		return 0, 0, fmt.Errorf("raw TPM: no operation for %q", w)
	}
	if err := call(); err != nil {
		return 0, 0, fmt.Errorf("raw TPM, warming up: %w", err)
	}
	calls := 0
	start := time.Now()
	for time.Since(start) < d {
		if err := call(); err != nil {
			return calls, 0, fmt.Errorf("raw TPM, call %d: %w", calls+1, err)
		}
		calls++
	}
	return calls, float64(calls) / time.Since(start).Seconds(), nil
}

// rssSample is one reading of a process's VmRSS, at a time since the
// sampling began.
type rssSample struct {
	at  time.Duration
	kib int64
}

// sampleRSS reads the VmRSS of process pid every interval until the
// function it returns is called, which returns the readings.
func sampleRSS(pid int, every time.Duration) func() []rssSample {
	done := make(chan struct{})
	out := make(chan []rssSample)
	go func() {
		var s []rssSample
		start := time.Now()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			if kib, err := vmRSS(pid); err == nil {
				s = append(s, rssSample{time.Since(start), kib})
			}
			select {
			case <-done:
				out <- s
				return
			case <-tick.C:
			}
		}
	}()
	return func() []rssSample {
		close(done)
		return <-out
	}
}

// maxRSS returns the most of the readings taken in [from, to).
func maxRSS(s []rssSample, from, to time.Duration) int64 {
	var m int64
	for _, x := range s {
		if x.at >= from && x.at < to {
			m = max(m, x.kib)
		}
	}
	return m
}
