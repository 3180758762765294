package bench

import (
	"errors"
	"math"
	"path/filepath"
	"slices"

	"tep.dev/tep/internal/swtpm"
)

// The systems Crypto compares, besides SystemSoftHSM.
const (
	// SystemTEPSWTPM is TEP over a pty, tepd keeping its keys in swtpm.
	SystemTEPSWTPM = "tep-pty-swtpm"
	// SystemTEPSim is TEP over a pty, tepd on its embedded simulator.
	SystemTEPSim = "tep-pty-sim"
	// SystemRawTPM is bare go-tpm commands sent from this process to a
	// second swtpm, the key already loaded and authorized by a password:
	// the TPM's own time, the floor under TEP on swtpm.
	SystemRawTPM = "tpm-direct-swtpm"
)

// cryptoWork is a workload with its calls at scale 1 and the bytes one
// operation processes, for a throughput (0 for none).
type cryptoWork struct {
	name  string
	calls int
	// tpm2Calls, if not 0, replaces calls for the systems on tpm2-pkcs11,
	// which on swtpm takes about 5.6 ms for an RSA signature, 3.6 ms for
	// an ECDSA one and 4 s for 1 MiB of AES (0.26 MiB/s, a TPM command
	// for each 1 KiB).
	tpm2Calls int
	bytes     int
}

// cryptoWorks are Crypto's workloads in order. The counts keep a run at
// scale 1 under two minutes on swtpm, where RSA-2048 generation takes
// about 200 ms, a signature 4 ms and AES some 3 MiB/s through TEP.
var cryptoWorks = []cryptoWork{
	{WorkRSASign, 200, 100, 0},
	{WorkRSAVerify, 300, 0, 0},
	{WorkECDSASign, 300, 100, 0},
	{WorkECDSAVerify, 300, 0, 0},
	{WorkAES, 12, 3, aesBulk},
	{WorkAESParts, 12, 3, aesBulk},
	{WorkDigest, 60, 0, aesBulk},
	{WorkDigestQuery, 60, 0, aesBulk},
	{WorkRSAKeygen, 12, 6, 0},
}

// load is a system's share of w at scale: bulk and key-generation
// workloads warm up with a single call.
func (w cryptoWork) load(scale float64, tpm2 bool) load {
	calls := w.calls
	if tpm2 && w.tpm2Calls > 0 {
		calls = w.tpm2Calls
	}
	n := max(1, int(math.Round(float64(calls)*scale)))
	l := load{n: n, round: max(1, n/5), warmup: 2}
	if w.bytes > 0 || w.name == WorkRSAKeygen {
		l.warmup = 1
	}
	return l
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
	// In SystemTEPSWTPM's rows, where the peer was measured: TEP's
	// median time over the peer's, for every workload, the bulk ones
	// too: below 1 TEP is faster, and its MiB/s are the peer's divided
	// by the ratio. The peers: SystemRawTPM, SystemSoftHSM, tpm2-pkcs11
	// on swtpm (SystemTPM2PKCS11 or SystemTPM2PKCS11Direct), and
	// p11-kit's RPC over a pty to SoftHSMv2 (SystemP11Kit) and to
	// tpm2-pkcs11 (SystemP11KitTPM2 or SystemP11KitTPM2Direct).
	VsRaw        float64 `json:"vs_raw,omitempty"`
	VsSoftHSM    float64 `json:"vs_softhsm,omitempty"`
	VsTPM2PKCS11 float64 `json:"vs_tpm2_pkcs11,omitempty"`
	VsP11Kit     float64 `json:"vs_p11kit,omitempty"`
	VsP11KitTPM2 float64 `json:"vs_p11kit_tpm2_pkcs11,omitempty"`
	Err          string  `json:"error,omitempty"`
}

// CryptoResult is everything one Crypto run measured.
type CryptoResult struct {
	Scale float64     `json:"scale"`
	Rows  []CryptoRow `json:"rows"`
	// Notes are as in P11Result.
	Notes []string `json:"notes,omitempty"`
}

// Crypto measures signatures, verifications, AES, digests and key
// generation through TEP over a pty on swtpm and on tepd's embedded
// simulator, in SoftHSMv2 and tpm2-pkcs11 (on swtpm, through tpm2-abrmd)
// loaded directly, through p11-kit's RPC over a pty pair to each of the
// two (to tpm2-pkcs11 without AES, which takes seconds), and with package
// tpm on swtpm directly for the operations a TPM does (no verify, no
// digest). Every TPM is an swtpm of its own. It starts them, their
// brokers, two tepd, the p11-kit chains and a host per module, and stops
// them all before it returns. Systems that fail become rows with the
// error, and so do workloads a system cannot do; Crypto returns an error
// with the result when no system could be measured.
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
	r := &rig{dir: c.Dir}
	defer r.stop()
	systems := r.cryptoSystems(c.Build)
	r.startHosts(c, systems, &P11Result{})
	checkChains(systems)
	res.Notes = r.notes
	var live []*p11System
	for _, s := range systems {
		if s.err != nil {
			res.Rows = append(res.Rows, CryptoRow{System: s.name, Err: s.err.Error()})
		} else {
			live = append(live, s)
		}
	}
	raw, err := startRawTPM(c.Dir, ChipNice)
	if err != nil {
		res.Rows = append(res.Rows, CryptoRow{System: SystemRawTPM, Err: err.Error()})
	} else {
		r.onStop(raw.stop)
	}
	if len(live) == 0 && raw == nil {
		return res, errors.New("no system could be measured")
	}
	for _, w := range cryptoWorks {
		res.Rows = append(res.Rows, measureCrypto(w, scale, live, raw)...)
	}
	cryptoRatios(res.Rows)
	return res, nil
}

// cryptoSystems sets up Crypto's PKCS#11 systems.
func (r *rig) cryptoSystems(build string) []*p11System {
	tepSW := &p11System{name: SystemTEPSWTPM}
	tepSim := &p11System{name: SystemTEPSim}
	hsm := &p11System{name: SystemSoftHSM}
	tpm2 := &p11System{name: SystemTPM2PKCS11}
	kit := &p11System{name: SystemP11Kit}
	// p11-kit's cost on AES is seen on SoftHSMv2; on tpm2-pkcs11 it
	// would add 30 s of the TPM's.
	kitTPM2 := &p11System{name: SystemP11KitTPM2, skip: []string{WorkAES, WorkAESParts}}
	if sw, err := startSWTPM(r.dir, "swtpm-tepd", ChipNice, false); err != nil {
		tepSW.err = err
	} else {
		r.onStop(sw.Stop)
		r.tep(tepSW, tepSW.name, build, sw.Spec)
	}
	r.tep(tepSim, tepSim.name, build, "sim")
	r.softHSM(hsm)
	r.tpm2(tpm2, tpm2.name)
	r.p11Kit(kit, hsm)
	r.p11KitTPM2(kitTPM2)
	return []*p11System{tepSW, tepSim, hsm, tpm2, kit, kitTPM2}
}

// measureCrypto times w on the systems that run it, and on raw if it
// does (raw may be nil).
func measureCrypto(w cryptoWork, scale float64, systems []*p11System, raw *rawTPM) []CryptoRow {
	var rs []runner
	var loads []load
	for _, s := range systems {
		if !slices.Contains(s.skip, w.name) {
			rs = append(rs, s.host)
			loads = append(loads, w.load(scale, s.tpm2))
		}
	}
	if raw != nil && raw.has(w.name) {
		rs = append(rs, raw)
		loads = append(loads, w.load(scale, false))
	}
	var rows []CryptoRow
	for _, r := range measure(rs, w.name, loads) {
		row := CryptoRow{System: r.System, Workload: r.Workload, Calls: r.Calls,
			MedianNs: r.MedianNs, P99Ns: r.P99Ns, OpsPerS: r.OpsPerS, Err: r.Err}
		if w.bytes > 0 && r.MedianNs > 0 {
			row.MiBps = float64(w.bytes) / (float64(r.MedianNs) / 1e9) / (1 << 20)
		}
		rows = append(rows, row)
	}
	return rows
}

// cryptoRatios fills the ratios in SystemTEPSWTPM's rows.
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
		// over is TEP's median over that of the first of peers measured.
		over := func(peers ...string) float64 {
			for _, p := range peers {
				if m := medians[p+"\x00"+r.Workload]; m > 0 {
					return float64(r.MedianNs) / float64(m)
				}
			}
			return 0
		}
		r.VsRaw = over(SystemRawTPM)
		r.VsSoftHSM = over(SystemSoftHSM)
		r.VsTPM2PKCS11 = over(SystemTPM2PKCS11, SystemTPM2PKCS11Direct)
		r.VsP11Kit = over(SystemP11Kit)
		r.VsP11KitTPM2 = over(SystemP11KitTPM2, SystemP11KitTPM2Direct)
	}
}

// ChipNice is the nice value the bench gives swtpm. swtpm stands in for a
// TPM chip, whose command time does not depend on what the host's CPUs
// are doing; on the bench's two cores, at the clients' priority, swtpm
// would lose a quarter of its time to the very processes that load it
// (W7's 24 clients preempt it thousands of times a second), and the
// figure would be the machine's, not TEP's. Every swtpm the bench starts
// (TEP's, the raw TPM's, tpm2-pkcs11's) gets it; W7 can also run without
// it (W7Config.SharedCPU). Lowering a nice value needs root or
// CAP_SYS_NICE: without either, swtpm keeps the clients' priority and
// the results say so.
const ChipNice = -10

// startSWTPM starts a TPM 2.0 swtpm, initialised and started, with its
// state in dir/name and its log in dir/name.log, on Unix sockets (the way
// TEP and the raw TPM reach it) or, with tcp, on free loopback TCP ports
// (for TSS2's swtpm TCTI, which knows no other way). nice is its nice
// value (see ChipNice).
func startSWTPM(dir, name string, nice int, tcp bool) (*swtpm.Process, error) {
	return swtpm.Start(swtpm.Config{State: filepath.Join(dir, name), Log: filepath.Join(dir, name+".log"), TCP: tcp, Nice: nice})
}
