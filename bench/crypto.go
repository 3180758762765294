package bench

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
)

// The systems Crypto compares, besides SystemSoftHSM.
const (
	// SystemTEPSWTPM is TEP over a pty, tepd keeping its keys in swtpm.
	SystemTEPSWTPM = "tep-pty-swtpm"
	// SystemTEPSim is TEP over a pty, tepd on its embedded simulator.
	SystemTEPSim = "tep-pty-sim"
	// SystemRawTPM is package tpm called in this process on a second
	// swtpm, the key already loaded: the most TEP on swtpm could reach.
	SystemRawTPM = "tpm-direct-swtpm"
)

// cryptoWork is a workload with its calls at scale 1 and the bytes one
// operation processes, for a throughput (0 for none).
type cryptoWork struct {
	name  string
	calls int
	bytes int
}

// cryptoWorks are Crypto's workloads in order. The counts keep a run at
// scale 1 under a minute on swtpm, where RSA-2048 generation takes about
// 200 ms, a signature 4 ms and AES some 3 MiB/s.
var cryptoWorks = []cryptoWork{
	{WorkRSASign, 200, 0},
	{WorkRSAVerify, 300, 0},
	{WorkECDSASign, 300, 0},
	{WorkECDSAVerify, 300, 0},
	{WorkAES, 12, aesBulk},
	{WorkAESParts, 12, aesBulk},
	{WorkDigest, 60, aesBulk},
	{WorkRSAKeygen, 12, 0},
}

// CryptoConfig configures Crypto. Dir must be set; every other zero
// value picks the default.
type CryptoConfig struct {
	// Dir holds tepd's states, the swtpm states, the token and the logs.
	// The caller creates and removes it.
	Dir string
	// Build is the directory with tepd and libtep_interface.so; default
	// "build".
	Build string
	// Scale multiplies the calls of every workload (at least one call
	// each); default 1.
	Scale float64
	// Host is as in P11Config.
	Host []string
}

// CryptoRow is one system and workload, or a system that could not be
// set up (no workload).
type CryptoRow struct {
	System   string `json:"system"`
	Workload string `json:"workload,omitempty"`
	Calls    int    `json:"calls"`
	MedianNs int64  `json:"median_ns,omitempty"`
	P99Ns    int64  `json:"p99_ns,omitempty"`
	// OpsPerS is calls over their summed time; MiBps the bytes of one
	// operation over the median, for the bulk workloads.
	OpsPerS float64 `json:"ops_per_s,omitempty"`
	MiBps   float64 `json:"mib_per_s,omitempty"`
	// In SystemTEPSWTPM's rows: its median over SystemRawTPM's and over
	// SystemSoftHSM's, where those were measured.
	VsRaw     float64 `json:"vs_raw,omitempty"`
	VsSoftHSM float64 `json:"vs_softhsm,omitempty"`
	Err       string  `json:"error,omitempty"`
}

// CryptoResult is everything one Crypto run measured.
type CryptoResult struct {
	Scale float64     `json:"scale"`
	Rows  []CryptoRow `json:"rows"`
}

// Crypto measures signatures, verifications, AES, digests and key
// generation through TEP over a pty on swtpm and on tepd's embedded
// simulator, in SoftHSMv2 loaded directly, and with package tpm on swtpm
// directly for the operations a TPM does (no verify, no digest). It
// starts two swtpm instances, two tepd and a host per module, and stops
// them all before it returns. Systems that fail become rows with the
// error; Crypto returns an error with the result when none could be
// measured.
func Crypto(cfg CryptoConfig) (*CryptoResult, error) {
	c, err := P11Config{Dir: cfg.Dir, Build: cfg.Build, Host: cfg.Host}.withDefaults()
	if err != nil {
		return nil, err
	}
	scale := cfg.Scale
	if scale <= 0 {
		scale = 1
	}
	res := &CryptoResult{Scale: scale}
	systems := []*p11System{{name: SystemTEPSWTPM}, {name: SystemTEPSim}, {name: SystemSoftHSM}}

	// Stopped after the tepd that use them.
	var sws []*swtpm
	defer func() {
		for _, sw := range sws {
			sw.stop()
		}
	}()
	var tpmds []*tepd
	defer func() {
		for _, t := range tpmds {
			t.stop()
		}
	}()
	for _, s := range systems[:2] {
		spec := "sim"
		if s.name == SystemTEPSWTPM {
			sw, err := startSWTPM(c.Dir, "swtpm-tepd")
			if err != nil {
				s.err = err
				continue
			}
			sws = append(sws, sw)
			spec = sw.spec
		}
		t, err := startTEPD(c.Dir, s.name, c.Build, spec)
		if err != nil {
			s.err = err
			continue
		}
		tpmds = append(tpmds, t)
		if _, err := os.Stat(t.so); err != nil {
			s.err = err
		} else {
			s.module, s.env = t.so, []string{"TEC_COMM_PORT=" + t.ports[0]}
		}
	}
	hsm := systems[2]
	if hsm.module, hsm.err = firstExisting(softHSMPaths); hsm.err == nil {
		var conf string
		conf, hsm.err = setUpSoftHSM(c.Dir)
		hsm.env = []string{"SOFTHSM2_CONF=" + conf}
	}
	hosts := startHosts(c, systems, &P11Result{})
	defer func() {
		for _, h := range hosts {
			h.stop()
		}
	}()
	var live []runner
	for _, s := range systems {
		if s.err != nil {
			res.Rows = append(res.Rows, CryptoRow{System: s.name, Err: s.err.Error()})
		} else {
			live = append(live, s.host)
		}
	}
	raw, err := startRawTPM(c.Dir)
	if err != nil {
		res.Rows = append(res.Rows, CryptoRow{System: SystemRawTPM, Err: err.Error()})
	} else {
		defer raw.stop()
	}
	if len(live) == 0 && raw == nil {
		return res, errors.New("no system could be measured")
	}
	for _, w := range cryptoWorks {
		rs := live
		if raw != nil && raw.has(w.name) {
			rs = append(rs[:len(rs):len(rs)], raw)
		}
		n := max(1, int(math.Round(float64(w.calls)*scale)))
		warmup, round := 2, max(1, n/5)
		if w.bytes > 0 || w.name == WorkRSAKeygen {
			warmup = 1
		}
		for _, r := range measure(rs, w.name, n, round, warmup) {
			row := CryptoRow{System: r.System, Workload: r.Workload, Calls: r.Calls,
				MedianNs: r.MedianNs, P99Ns: r.P99Ns, OpsPerS: r.OpsPerS, Err: r.Err}
			if w.bytes > 0 && r.MedianNs > 0 {
				row.MiBps = float64(w.bytes) / (float64(r.MedianNs) / 1e9) / (1 << 20)
			}
			res.Rows = append(res.Rows, row)
		}
	}
	cryptoRatios(res.Rows)
	return res, nil
}

// cryptoRatios fills VsRaw and VsSoftHSM in SystemTEPSWTPM's rows.
func cryptoRatios(rows []CryptoRow) {
	medians := map[string]int64{}
	for _, r := range rows {
		if r.Err == "" && r.MedianNs > 0 {
			medians[r.System+"\x00"+r.Workload] = r.MedianNs
		}
	}
	for i := range rows {
		r := &rows[i]
		if r.System != SystemTEPSWTPM || r.Err != "" || r.MedianNs <= 0 {
			continue
		}
		if m := medians[SystemRawTPM+"\x00"+r.Workload]; m > 0 {
			r.VsRaw = float64(r.MedianNs) / float64(m)
		}
		if m := medians[SystemSoftHSM+"\x00"+r.Workload]; m > 0 {
			r.VsSoftHSM = float64(r.MedianNs) / float64(m)
		}
	}
}

// startSWTPM starts a TPM 2.0 swtpm, initialised and started, with its
// state in dir/name and its log in dir/name.log, on free loopback ports.
func startSWTPM(dir, name string) (*swtpm, error) {
	state := filepath.Join(dir, name)
	if err := os.MkdirAll(state, 0o700); err != nil {
		return nil, err
	}
	var lastErr error
	for range 5 {
		port, err := freePortPair()
		if err != nil {
			return nil, err
		}
		p, err := startProc(filepath.Join(dir, name+".log"), nil, "swtpm", "socket", "--tpm2",
			"--server", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", port),
			"--ctrl", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", port+1),
			"--tpmstate", "dir="+state, "--flags", "not-need-init,startup-clear")
		if err != nil {
			return nil, err
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		if lastErr = waitListen(p, addr); lastErr == nil {
			return &swtpm{proc: p, spec: "swtpm:" + addr}, nil
		}
		p.stop()
	}
	return nil, lastErr
}
