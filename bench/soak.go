package bench

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"tep.dev/tep/tpm"
)

// SoakConfig configures Soak. Dir must be set; every other zero value
// picks the default.
type SoakConfig struct {
	// Dir, Build and Host are as in W7Config.
	Dir   string
	Build string
	Host  []string
	// Duration is how long the workers sign; default 10 minutes.
	Duration time.Duration
	// Ports and Procs are as in W7Config: 6 ports, 4 processes each.
	Ports, Procs int
	// Lease is tepd's --lease, the silence after which it drops a
	// client, so that a killed one's logins go soon; default 5 s.
	Lease time.Duration
	// Rand draws the pauses between kills and the workers killed; nil
	// means a generator seeded at random.
	Rand *rand.Rand
}

// SoakError is one error text and how often it came.
type SoakError struct {
	Text  string `json:"text"`
	Count int    `json:"count"`
}

// SoakResult is what one Soak run found. Its targets: no errors, no
// final failures, nothing lost, RSSGrowth at most TargetRSSGrowth, and
// one transient object (the storage primary key) and no session left on
// the TPM.
type SoakResult struct {
	DurationS float64 `json:"duration_s"`
	// Workers is how many sign at a time; Signatures what all of them
	// made and reported (a killed worker's last round is lost with it).
	Workers    int `json:"workers"`
	Signatures int `json:"signatures"`
	// Kills is how many workers got SIGKILL, each replaced on its port.
	Kills int `json:"kills"`
	// Errors are failures of calls of workers, of replacements that
	// did not start, and of workers that stopped answering without
	// being killed; ErrorTexts their texts, the most frequent first.
	Errors     int         `json:"errors"`
	ErrorTexts []SoakError `json:"error_texts,omitempty"`
	// Survivors are the workers running at the end; FinalFailures those
	// of them that could not sign once more or did not finalise.
	Survivors     int      `json:"survivors"`
	FinalFailures []string `json:"final_failures,omitempty"`
	// Lost are the objects, of soakObjects data objects and the two
	// halves of the W7 key, that a fresh client did not find as
	// written, or why it could not look (CheckErr).
	Lost     []string `json:"lost_objects,omitempty"`
	CheckErr string   `json:"check_error,omitempty"`
	// tepd's VmRSS: the most in the first minute (or fifth of the run
	// if shorter), the most in the last fifth, and the growth between.
	RSSBaselineKiB int64   `json:"tepd_rss_baseline_kib"`
	RSSFinalKiB    int64   `json:"tepd_rss_final_kib"`
	RSSGrowth      float64 `json:"tepd_rss_growth"`
	// The handles on the TPM after tepd, with nobody logged in for
	// longer than the lease, was killed.
	TPMTransients int    `json:"tpm_transients_left"`
	TPMSessions   int    `json:"tpm_sessions_left"`
	TPMErr        string `json:"tpm_error,omitempty"`
}

// soakRound is how long a worker signs before it reports.
const soakRound = time.Second

// Soak runs W7's set-up (ECDSA, Procs processes on each of Ports ports,
// one tepd on swtpm with its lease at Lease) for Duration, with soakObjects
// token data objects written first. The workers sign in rounds of
// soakRound; every 2 to 5 s (less in runs under two minutes: see
// killPause) a random one is killed with SIGKILL, most likely in the
// middle of a call, and a new one starts on its port. At the end each
// survivor signs once more and finalises, a fresh client looks for the
// objects and the key, and once nobody has been logged in for longer
// than the lease tepd is killed too, and the handles it left on the TPM
// counted. Soak stops every process it started before it returns; it
// returns an error, and no result, when the run could not be set up.
func Soak(cfg SoakConfig) (*SoakResult, error) {
	c, m, pc, err := W7Config{Dir: cfg.Dir, Build: cfg.Build, Host: cfg.Host, Ports: cfg.Ports, Procs: cfg.Procs}.withDefaults()
	if err != nil {
		return nil, err
	}
	d, lease, rnd := cfg.Duration, cfg.Lease, cfg.Rand
	if d <= 0 {
		d = 10 * time.Minute
	}
	if lease <= 0 {
		lease = 5 * time.Second
	}
	if rnd == nil {
		rnd = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	r := &rig{dir: pc.Dir}
	defer r.stop()
	sw, t, err := r.w7Server(pc.Build, ChipNice, "--lease", lease.String())
	if err != nil {
		return nil, err
	}
	if err := w7SetUp(pc, t, m.keyStep, stepSoakWrite); err != nil {
		return nil, err
	}
	res := &SoakResult{DurationS: d.Seconds(), Workers: c.Ports * c.Procs}
	p := &soakPool{c: pc, t: t, work: m.work, texts: map[string]int{}}
	for i := range res.Workers {
		p.slots = append(p.slots, &soakSlot{port: i % c.Ports})
	}
	r.onStop(p.stopAll)

	stopRSS := sampleRSS(t.Pid(), rssEvery)
	p.run(d, rnd)
	samples := stopRSS()
	res.RSSBaselineKiB = maxRSS(samples, 0, min(time.Minute, d/5))
	res.RSSFinalKiB = maxRSS(samples, d-d/5, d+time.Hour)
	if res.RSSBaselineKiB > 0 {
		res.RSSGrowth = float64(res.RSSFinalKiB)/float64(res.RSSBaselineKiB) - 1
	}

	res.Survivors, res.FinalFailures = p.finish()
	res.Signatures, res.Kills, res.Errors, res.ErrorTexts = p.signatures, p.kills, p.errors, p.errorTexts()
	res.Lost, res.CheckErr = soakCheck(pc, t)

	// Wait until the lease has dropped every killed worker, and tepd,
	// with nobody logged in, has flushed its keys; then kill it, so that
	// it cannot clean up, and see what it left.
	time.Sleep(lease + 2*time.Second)
	syscall.Kill(t.Pid(), syscall.SIGKILL)
	<-t.Done()
	if res.TPMTransients, res.TPMSessions, err = tpm.Inspect(sw.Spec); err != nil {
		res.TPMErr = err.Error()
	}
	return res, nil
}

// soakCheck has a fresh client look for the soak objects and the W7 key.
func soakCheck(c P11Config, t *tepd) ([]string, string) {
	h, err := w7Host(c, t, "check", 0)
	if err != nil {
		return nil, err.Error()
	}
	defer h.stop()
	rep, err := h.request(hostRequest{Workload: stepSoakCheck})
	if err != nil {
		return nil, err.Error()
	}
	return rep.Missing, rep.Err
}

// soakPool is Soak's workers, a slot each, and what they reported.
type soakPool struct {
	c     P11Config
	t     *tepd
	work  string
	slots []*soakSlot
	// starts limits the hosts starting at once to hostStarts.
	starts chan struct{}

	mu                        sync.Mutex
	started                   int // hosts, for their names
	signatures, kills, errors int
	texts                     map[string]int
}

// soakSlot is one worker's place: its port and its current host.
type soakSlot struct {
	port int
	mu   sync.Mutex
	h    *host // nil while none runs
	// killed is set when h got SIGKILL: its failure is expected.
	killed bool
}

// run keeps every slot's worker signing for d while another goroutine
// kills one now and then.
func (p *soakPool) run(d time.Duration, rnd *rand.Rand) {
	p.starts = make(chan struct{}, hostStarts)
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for _, s := range p.slots {
		wg.Go(func() { p.work1(s, deadline) })
	}
	for {
		pause := killPause(d, rnd)
		if time.Now().Add(pause).After(deadline) {
			break
		}
		time.Sleep(pause)
		p.killOne(rnd)
	}
	wg.Wait()
}

// killPause is the pause before the next kill: 2 to 5 s, or a twentieth
// to an eighth of runs shorter than that allows, so that a short run
// still kills a few workers.
func killPause(d time.Duration, rnd *rand.Rand) time.Duration {
	lo, hi := min(2*time.Second, d/20), min(5*time.Second, d/8)
	return lo + time.Duration(rnd.Int64N(int64(hi-lo)+1))
}

// killOne sends SIGKILL to a random running worker.
func (p *soakPool) killOne(rnd *rand.Rand) {
	for _, i := range rnd.Perm(len(p.slots)) {
		s := p.slots[i]
		s.mu.Lock()
		if s.h != nil && !s.killed {
			s.killed = true
			syscall.Kill(s.h.pid(), syscall.SIGKILL)
			s.mu.Unlock()
			p.mu.Lock()
			p.kills++
			p.mu.Unlock()
			return
		}
		s.mu.Unlock()
	}
}

// work1 keeps a worker signing in slot s, in rounds, until deadline,
// starting a new one whenever there is none.
func (p *soakPool) work1(s *soakSlot, deadline time.Time) {
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return
		}
		s.mu.Lock()
		h := s.h
		s.mu.Unlock()
		if h == nil {
			if h = p.start(s); h == nil {
				time.Sleep(min(left, 500*time.Millisecond))
				continue
			}
		}
		rep, err := h.request(hostRequest{Workload: p.work, Seconds: min(left, soakRound).Seconds()})
		p.report(rep)
		if err != nil {
			s.mu.Lock()
			killed := s.killed
			s.h, s.killed = nil, false
			s.mu.Unlock()
			h.stop()
			if !killed {
				p.fail(fmt.Sprintf("worker %s, not killed: %v", h.name, err))
			}
		}
	}
}

// start starts a worker for s, or counts why it could not.
func (p *soakPool) start(s *soakSlot) *host {
	p.mu.Lock()
	p.started++
	name := fmt.Sprintf("soak-%d-port%d", p.started, s.port)
	p.mu.Unlock()
	p.starts <- struct{}{}
	h, err := w7Host(p.c, p.t, name, s.port)
	<-p.starts
	if err != nil {
		p.fail(fmt.Sprintf("starting a worker: %v", err))
		return nil
	}
	s.mu.Lock()
	s.h = h
	s.mu.Unlock()
	return h
}

// report counts a round's signatures and failures.
func (p *soakPool) report(rep hostReply) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.signatures += len(rep.Ns)
	if rep.Errors > 0 {
		p.errors += rep.Errors
		// Only the first failure of a round comes with its text.
		p.texts[rep.Err]++
	}
}

// fail counts a failure outside the calls.
func (p *soakPool) fail(text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.errors++
	p.texts[text]++
}

// errorTexts returns the texts counted, the most frequent first.
func (p *soakPool) errorTexts() []SoakError {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []SoakError
	for t, n := range p.texts {
		out = append(out, SoakError{t, n})
	}
	slices.SortFunc(out, func(a, b SoakError) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Text, b.Text))
	})
	return out
}

// finish has every surviving worker sign once more and then finalise
// (its stdin closed), all at once, and returns how many survived and
// which of them failed.
func (p *soakPool) finish() (int, []string) {
	var (
		mu       sync.Mutex
		failures []string
		n        int
		wg       sync.WaitGroup
	)
	for _, s := range p.slots {
		s.mu.Lock()
		h := s.h
		if s.killed {
			h = nil // stopAll reaps it
		} else {
			s.h = nil
		}
		s.mu.Unlock()
		if h == nil {
			continue
		}
		n++
		wg.Go(func() {
			rep, err := h.request(hostRequest{Workload: p.work, Calls: 1})
			if err == nil && rep.Err != "" {
				err = fmt.Errorf("%s", rep.Err)
			}
			h.stop()
			if err == nil && !h.cmd.ProcessState.Success() {
				err = fmt.Errorf("did not finalise and exit cleanly: %v", h.cmd.ProcessState)
			}
			if err != nil {
				mu.Lock()
				failures = append(failures, fmt.Sprintf("worker %s: %v", h.name, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	p.stopAll()
	slices.Sort(failures)
	return n, failures
}

// stopAll stops the workers still running, killed ones included.
func (p *soakPool) stopAll() {
	for _, s := range p.slots {
		s.mu.Lock()
		h := s.h
		s.h = nil
		s.mu.Unlock()
		if h != nil {
			h.stop()
		}
	}
}
