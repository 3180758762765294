package bench

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// The systems P11 compares.
const (
	// SystemTEP is libtep_interface.so talking to tepd over a pty: the
	// host opens the slave end (tepd's ttyS4), tepd holds the master.
	SystemTEP = "tep-pty"
	// SystemSoftHSM is SoftHSMv2 loaded into the host: no transport.
	SystemSoftHSM = "softhsm-direct"
	// SystemP11Kit is p11-kit's RPC over a pty pair to SoftHSMv2; see
	// p11KitChain. SystemP11KitTPM2 is the same to tpm2-pkcs11.
	SystemP11Kit = "p11kit-rpc-pty"
	// SystemPTYEcho is a raw echo of a call's size (32 bytes) on a pty
	// pair in the bench's own process (see ptyEcho), timed in the same
	// rounds as the modules: the floor under W1, where a call that stays
	// in the server is one round trip.
	SystemPTYEcho = "raw-pty-echo"
)

// P11Config configures P11. Dir must be set; every other zero value picks
// the default.
type P11Config struct {
	// Dir holds the tokens, tepd's state, the ptys, the sockets and the
	// logs of the children. The caller creates and removes it.
	Dir string
	// Build is the directory with tepd and libtep_interface.so; default
	// "build".
	Build string
	// N is the number of timed calls per system and workload; default 2000.
	N int
	// Round is how many calls a system makes before the next one's turn;
	// default 100.
	Round int
	// Warmup is the number of untimed calls per system and workload before
	// the first round; default 50.
	Warmup int
	// Host, with a module's path appended, is the command that runs
	// P11Host. The default is this program with HostCommand.
	Host []string
}

// P11Row is one system and workload. A system that could not be set up
// or initialised has a single row with no workload and the error.
type P11Row struct {
	System   string `json:"system"`
	Workload string `json:"workload,omitempty"`
	Calls    int    `json:"calls"`
	MedianNs int64  `json:"median_ns,omitempty"`
	P99Ns    int64  `json:"p99_ns,omitempty"`
	// OpsPerS is calls back to back per second: Calls over their sum.
	OpsPerS float64 `json:"ops_per_s,omitempty"`
	// TEPRatio is TEP's median over this row's median, in peers' rows
	// when both were measured: 2 means TEP takes twice as long.
	TEPRatio float64 `json:"tep_ratio,omitempty"`
	Err      string  `json:"error,omitempty"`
}

// P11RSS is one memory figure: the resident set of a server process, or
// what loading a module and calling C_Initialize adds to a host process.
type P11RSS struct {
	What string `json:"what"`
	// KiB is the server's VmRSS, or for a host AfterKiB - BeforeKiB.
	KiB int64 `json:"kib"`
	// BeforeKiB and AfterKiB are the host's VmRSS before loading the
	// module and after C_Initialize.
	BeforeKiB int64  `json:"before_kib,omitempty"`
	AfterKiB  int64  `json:"after_kib,omitempty"`
	Err       string `json:"error,omitempty"`
}

// P11Result is everything one P11 run measured.
type P11Result struct {
	N    int      `json:"n"`
	Rows []P11Row `json:"rows"`
	RSS  []P11RSS `json:"rss"`
	// Notes say what a reader needs to know to read the rows: a system
	// set up other than its name says, and why.
	Notes []string `json:"notes,omitempty"`
}

// p11System is a system to measure: its module, the environment the
// module finds its token by, or why it cannot be measured.
type p11System struct {
	name, module string
	env          []string
	err          error
	host         *host
	chain        *p11KitChain // p11-kit's systems' way to their module
	// tpm2 marks a system on tpm2-pkcs11, which takes cryptoWork.tpm2Calls.
	tpm2 bool
	// skip are the Crypto workloads it does not run.
	skip []string
}

// P11 measures PKCS#11 round trips, C_GenerateRandom of 32 bytes and
// C_GetSessionInfo, through TEP over a pty, SoftHSMv2 in the host,
// tpm2-pkcs11 in the host on an swtpm (through tpm2-abrmd), and p11-kit's
// RPC over a pty pair to SoftHSMv2 and to tpm2-pkcs11 on a second swtpm.
// Each module runs in a host process of its own (see P11Host), and the
// hosts take turns in rounds of calls, so that noise hits all alike; a
// raw pty echo (SystemPTYEcho) takes its turn with them. P11
// starts tepd, the swtpms and their brokers, socat, p11-kit remote and
// the hosts, and stops them all (SIGTERM, then SIGKILL) before it
// returns.
//
// A system that fails to start or initialise becomes a row with the
// error. P11 returns an error when nothing could be measured, with the
// result holding the rows that say why, or when cfg is unusable.
func P11(cfg P11Config) (*P11Result, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	res := &P11Result{N: c.N}
	r := &rig{dir: c.Dir}
	defer r.stop()
	tep := &p11System{name: SystemTEP}
	hsm := &p11System{name: SystemSoftHSM}
	kit := &p11System{name: SystemP11Kit}
	tpm2 := &p11System{name: SystemTPM2PKCS11}
	kitTPM2 := &p11System{name: SystemP11KitTPM2}
	systems := []*p11System{tep, hsm, kit, tpm2, kitTPM2}
	tepd := r.tep(tep, "tepd", c.Build, "sim")
	r.softHSM(hsm)
	r.p11Kit(kit, hsm)
	stack := r.tpm2(tpm2, tpm2.name)
	r.p11KitTPM2(kitTPM2)
	r.startHosts(c, systems, res)
	checkChains(systems)
	res.Notes = r.notes

	res.RSS = append(res.RSS, idleRSS(tepd, kit.chain, kitTPM2.chain, stack)...)

	var live []runner
	for _, s := range systems {
		if s.err != nil {
			res.Rows = append(res.Rows, P11Row{System: s.name, Err: s.err.Error()})
		} else {
			live = append(live, s.host)
		}
	}
	if len(live) == 0 {
		return res, errors.New("no system could be measured")
	}
	if echo, err := newPTYEcho(filepath.Join(c.Dir, "raw-echo"), 32); err != nil {
		res.Rows = append(res.Rows, P11Row{System: SystemPTYEcho, Err: err.Error()})
	} else {
		defer echo.close()
		live = append(live, echo)
	}
	loads := slices.Repeat([]load{{n: c.N, round: c.Round, warmup: c.Warmup}}, len(live))
	for _, w := range p11Workloads {
		res.Rows = append(res.Rows, measure(live, w, loads)...)
	}
	tepRatios(res.Rows)
	if tepd != nil {
		res.RSS = append(res.RSS, serverRSS("tepd, after the run", tepd.Pid()))
	}
	return res, nil
}

// withDefaults returns a copy of c with the defaults filled in and Dir
// made absolute.
func (c P11Config) withDefaults() (P11Config, error) {
	if c.Dir == "" {
		return c, errors.New("P11 needs a directory for its files")
	}
	var err error
	if c.Dir, err = filepath.Abs(c.Dir); err != nil {
		return c, err
	}
	if c.Build == "" {
		c.Build = "build"
	}
	c.N, c.Round, c.Warmup = orDefault(c.N, 2000), orDefault(c.Round, 100), orDefault(c.Warmup, 50)
	if c.Host == nil {
		self, err := os.Executable()
		if err != nil {
			return c, err
		}
		c.Host = []string{self, HostCommand}
	}
	return c, nil
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// idleRSS reads the memory of the servers, each with its host connected
// and idle; any may be nil.
func idleRSS(t *tepd, kit, kitTPM2 *p11KitChain, stack *tpm2Stack) []P11RSS {
	var out []P11RSS
	if t != nil {
		out = append(out, serverRSS("tepd, idle, 6 ports", t.Pid()))
	}
	for _, k := range []struct {
		c    *p11KitChain
		what string
	}{{kit, "p11-kit remote + SoftHSMv2, idle"}, {kitTPM2, "p11-kit remote + tpm2-pkcs11, idle"}} {
		if k.c == nil {
			continue
		}
		if pid, err := k.c.server(); err == nil {
			out = append(out, serverRSS(k.what, pid))
		}
	}
	if stack != nil && stack.abrmd != nil {
		out = append(out, serverRSS("tpm2-abrmd, one client, idle", stack.abrmd.pid()))
	}
	return out
}

// serverRSS reads the VmRSS of a server process.
func serverRSS(what string, pid int) P11RSS {
	out := P11RSS{What: what}
	kib, err := vmRSS(pid)
	if err != nil {
		out.Err = err.Error()
	}
	out.KiB = kib
	return out
}

// runner is what measure times: a host, or the TPM itself.
type runner interface {
	label() string
	request(hostRequest) (hostReply, error)
}

// load is a runner's share of a workload: warmup untimed calls, then n
// timed ones in rounds of round.
type load struct{ n, round, warmup int }

// measure times workload w on each host as loads, one a host, say: the
// warm-up calls first, then the hosts take turns, a round of calls each.
// A host whose call fails drops out of this workload with the error in
// its row.
func measure(hosts []runner, w string, loads []load) []P11Row {
	rows := make([]P11Row, len(hosts))
	samples := make([]Sample, len(hosts))
	for i, h := range hosts {
		rows[i] = P11Row{System: h.label(), Workload: w}
		if rep, err := h.request(hostRequest{Workload: w, Calls: loads[i].warmup}); err != nil {
			rows[i].Err = err.Error()
		} else if rep.Err != "" {
			rows[i].Err = "warm-up: " + rep.Err
		}
	}
	for more := true; more; {
		more = false
		for i, h := range hosts {
			n := loads[i].n
			if rows[i].Err != "" || len(samples[i]) >= n {
				continue
			}
			rep, err := h.request(hostRequest{Workload: w, Calls: min(loads[i].round, n-len(samples[i]))})
			for _, ns := range rep.Ns {
				samples[i] = append(samples[i], time.Duration(ns))
			}
			switch {
			case err != nil:
				rows[i].Err = err.Error()
			case rep.Err != "":
				rows[i].Err = fmt.Sprintf("call %d: %s", len(samples[i])+1, rep.Err)
			}
			more = more || rows[i].Err == "" && len(samples[i]) < n
		}
	}
	for i := range rows {
		rows[i].Calls = len(samples[i])
		if rows[i].Err == "" && len(samples[i]) > 0 {
			var sum time.Duration
			for _, d := range samples[i] {
				sum += d
			}
			rows[i].MedianNs, rows[i].P99Ns = int64(samples[i].Median()), int64(samples[i].P99())
			rows[i].OpsPerS = float64(len(samples[i])) / sum.Seconds()
		}
	}
	return rows
}

// tepRatios fills TEPRatio in the peers' rows of each workload TEP
// completed.
func tepRatios(rows []P11Row) {
	tep := map[string]int64{}
	for _, r := range rows {
		if r.System == SystemTEP && r.Err == "" && r.MedianNs > 0 {
			tep[r.Workload] = r.MedianNs
		}
	}
	for i := range rows {
		r := &rows[i]
		if m, ok := tep[r.Workload]; ok && r.System != SystemTEP && r.Err == "" && r.MedianNs > 0 {
			r.TEPRatio = float64(m) / float64(r.MedianNs)
		}
	}
}
