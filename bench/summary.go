package bench

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// The peers a summary row sets TEP beside, in the order of tep-bench's
// columns.
const (
	// PeerRaw is the limit under TEP: the raw TPM (SystemRawTPM) for the
	// TPM's workloads; a raw echo on a pty pair for the link's and W1's,
	// where a call that stays in the server is one round trip (W1's is
	// SystemPTYEcho, timed in W1's rounds); and the bare pty carrying the
	// data one way for W5's digest, which the server computes in software
	// (the pty is what it waits for).
	PeerRaw = "raw"
	// PeerSoftHSM is SystemSoftHSM.
	PeerSoftHSM = "softhsm"
	// PeerTPM2PKCS11 is SystemTPM2PKCS11 or SystemTPM2PKCS11Direct.
	PeerTPM2PKCS11 = "tpm2-pkcs11"
	// PeerP11Kit is SystemP11Kit, p11-kit's RPC over a pty to SoftHSMv2.
	PeerP11Kit = "p11kit-softhsm"
	// PeerP11KitTPM2 is SystemP11KitTPM2 or SystemP11KitTPM2Direct.
	PeerP11KitTPM2 = "p11kit-tpm2-pkcs11"
)

// SummaryPeers are the peers in column order.
var SummaryPeers = []string{PeerRaw, PeerSoftHSM, PeerTPM2PKCS11, PeerP11Kit, PeerP11KitTPM2}

// The units of a summary row's figures.
const (
	UnitNs      = "ns"    // a median time
	UnitMiBps   = "MiB/s" // bytes of one operation over its median time
	UnitOpsPerS = "ops/s" // operations over wall time
	UnitKiB     = "KiB"   // resident memory
)

// The verdicts on a target.
const (
	TargetMet          = "met"
	TargetMissed       = "missed"
	TargetNotEvaluated = "not evaluated" // a figure it needs is missing
)

// Figure is one system's figure in a summary row. A figure with Err and
// no Value is a system or workload that could not run.
type Figure struct {
	// System is what was measured, a System* name where there is one.
	System string  `json:"system,omitempty"`
	Value  float64 `json:"value,omitempty"`
	// Ratio, in a peer's figure, is TEP's ratio to it (see SummaryRow).
	Ratio float64 `json:"ratio,omitempty"`
	Err   string  `json:"error,omitempty"`
}

// SummaryTarget is the target for a row and whether a run met it.
type SummaryTarget struct {
	Text    string `json:"text"`
	Verdict string `json:"verdict"`
	// Detail is the figure the verdict rests on, or what was missing.
	Detail string `json:"detail,omitempty"`
}

// SummaryRow is one workload, or one memory figure, of TEP beside its
// peers. The ratio in a peer's figure is, for UnitNs, TEP's time over
// the peer's; for UnitMiBps the same time ratio, the peer's MiB/s over
// TEP's; so below 1 TEP is faster. For UnitOpsPerS it is TEP's rate over
// the peer's (above 1 TEP is faster), and for UnitKiB TEP's memory over
// the peer's.
type SummaryRow struct {
	Workload string `json:"workload"`
	Unit     string `json:"unit"`
	TEP      Figure `json:"tep"`
	// Peers has the peers this workload applies to, by Peer* name.
	Peers  map[string]Figure `json:"peers,omitempty"`
	Target *SummaryTarget    `json:"target,omitempty"`
}

// Summary is one row per workload and memory figure of a whole run, and
// notes that say why a figure is missing or how a system was set up.
type Summary struct {
	Rows  []SummaryRow `json:"rows"`
	Notes []string     `json:"notes,omitempty"`
}

// SummaryInput is what Summarize reads: the result of each part of a
// run, nil for one that returned none, with its error if it failed.
type SummaryInput struct {
	Link                              []LinkResult
	P11                               *P11Result
	Crypto                            *CryptoResult
	W7                                *W7Result
	LinkErr, P11Err, CryptoErr, W7Err string
	// W7Shared is W7 again with SharedCPU, when it ran: a row of its own,
	// judged by no target.
	W7Shared    *W7Result
	W7SharedErr string
}

// Summarize sets TEP's figure for each workload beside each peer's, with
// TEP's ratio to each and the target judged. Every row is there
// whatever failed: a missing figure has its error, also in the notes.
func Summarize(in SummaryInput) Summary {
	s := &summarizer{in: in, seen: map[string]bool{}}
	for _, n := range append(p11Notes(in.P11), cryptoNotes(in.Crypto)...) {
		s.note(n)
	}
	for _, w := range []struct{ name, work string }{
		{"W1 C_GenerateRandom(32)", p11Workloads[0]},
		{"W1 C_GetSessionInfo", p11Workloads[1]},
	} {
		s.add(s.p11Row(w.name, w.work), timeAtMost(PeerP11Kit, "p11-kit→SoftHSMv2", TargetW1VsP11Kit, rawBound("a raw pty echo")))
	}
	s.add(s.linkRow("link 32 B round trip", 32), nil)
	_, echo := s.roundTrips(32)
	s.add(s.linkRow("link 1 MiB round trip", 1<<20), nil)
	for _, w := range []struct {
		name, work string
		target     *targetSpec
	}{
		{"W2 RSA-2048 sign", WorkRSASign, timeAtMost(PeerRaw, "raw", TargetRSASignVsRaw, signBound(echo))},
		{"W2 RSA-2048 verify", WorkRSAVerify, nil},
		{"W3 ECDSA P-256 sign", WorkECDSASign, timeAtMost(PeerRaw, "raw", TargetECDSASignVsRaw, signBound(echo))},
		{"W3 ECDSA P-256 verify", WorkECDSAVerify, nil},
		{"W4 AES-256-CBC 1 MiB single-part", WorkAES, rateAtLeast(PeerRaw, "raw", TargetAESVsRaw, nil)},
		{"W4 AES-256-CBC 1 MiB in 64 KiB parts", WorkAESParts, nil},
		{"W5 SHA-256 1 MiB", WorkDigest, rateAtLeast(PeerP11Kit, "p11-kit→SoftHSMv2", TargetDigestVsP11Kit, rawBound("the bare pty one way"))},
		{"W5 SHA-256 1 MiB, length query first", WorkDigestQuery, rateAtLeast(PeerP11Kit, "p11-kit→SoftHSMv2", TargetDigestVsP11Kit, rawBound("the bare pty one way"))},
		{"W6 RSA-2048 keygen", WorkRSAKeygen, nil},
	} {
		s.add(s.cryptoRow(w.name, w.work), w.target)
	}
	s.add(s.w7Row("W7 aggregate sign rate", in.W7, in.W7Err), w7Target(in.W7))
	if in.W7Shared != nil || in.W7SharedErr != "" {
		s.add(s.w7Row("W7 aggregate sign rate, swtpm at the clients' priority", in.W7Shared, in.W7SharedErr), nil)
	}
	s.add(s.idleRow(), atMostKiB(TargetRSSIdleKiB))
	s.add(s.loadRow(), atMostKiB(TargetRSSLoadKiB))
	s.add(s.providerRow(), atMostKiB(TargetProviderKiB))
	return Summary{Rows: s.rows, Notes: s.notes}
}

type summarizer struct {
	in    SummaryInput
	rows  []SummaryRow
	notes []string
	seen  map[string]bool
}

// note adds n to the notes once.
func (s *summarizer) note(n string) {
	if !s.seen[n] {
		s.seen[n] = true
		s.notes = append(s.notes, n)
	}
}

// add fills in r's ratios and target, notes its figures' errors and
// appends it.
func (s *summarizer) add(r SummaryRow, t *targetSpec) {
	for _, p := range SummaryPeers {
		f, ok := r.Peers[p]
		if !ok {
			continue
		}
		if f.Value > 0 && r.TEP.Value > 0 {
			f.Ratio = ratio(r.Unit, r.TEP.Value, f.Value)
			r.Peers[p] = f
		}
	}
	for _, f := range append([]Figure{r.TEP}, peerFigures(r)...) {
		if f.Err != "" && f.Value <= 0 {
			s.note(f.Err)
		}
	}
	if t != nil {
		verdict, detail := t.judge(r)
		r.Target = &SummaryTarget{Text: t.text, Verdict: verdict, Detail: detail}
	}
	s.rows = append(s.rows, r)
}

// peerFigures returns r's peers' figures in column order.
func peerFigures(r SummaryRow) []Figure {
	var out []Figure
	for _, p := range SummaryPeers {
		if f, ok := r.Peers[p]; ok {
			out = append(out, f)
		}
	}
	return out
}

// ratio is TEP's ratio to a peer in unit (see SummaryRow).
func ratio(unit string, tep, peer float64) float64 {
	if unit == UnitMiBps {
		return peer / tep
	}
	return tep / peer
}

// failed is the figure of a part of the run that returned no result.
func failed(part, err string) Figure {
	if err == "" {
		err = "not run"
	}
	return Figure{Err: fmt.Sprintf("%s: %s", part, err)}
}

// everyPeer gives each of peers f.
func everyPeer(f Figure, peers ...string) map[string]Figure {
	m := map[string]Figure{}
	for _, p := range peers {
		m[p] = f
	}
	return m
}

// find returns the figure of the first of systems with a row for work
// in rows: the median, or for UnitMiBps the MiB/s; or else a row of one
// of them with no workload, which says why that system could not be set
// up. It says so when none of them has either.
func find(rows []CryptoRow, work, unit string, systems ...string) Figure {
	for _, wantWork := range []string{work, ""} {
		for _, r := range rows {
			if r.Workload != wantWork || !slices.Contains(systems, r.System) {
				continue
			}
			f := Figure{System: r.System}
			switch {
			case r.Err != "" && wantWork == "":
				f.Err = fmt.Sprintf("%s could not run: %s", r.System, r.Err)
			case r.Err != "":
				f.Err = fmt.Sprintf("%s, %s: %s", r.System, work, r.Err)
			case unit == UnitMiBps:
				f.Value = r.MiBps
			default:
				f.Value = float64(r.MedianNs)
			}
			return f
		}
	}
	return Figure{System: systems[0], Err: fmt.Sprintf("%s, %s: not measured", systems[0], work)}
}

// p11Row is W1's workload work, from P11's rows, with the raw pty echo
// timed in the same rounds as its raw figure.
func (s *summarizer) p11Row(name, work string) SummaryRow {
	r := SummaryRow{Workload: name, Unit: UnitNs}
	if s.in.P11 == nil {
		r.TEP = failed("p11", s.in.P11Err)
		r.Peers = everyPeer(r.TEP, PeerRaw, PeerSoftHSM, PeerTPM2PKCS11, PeerP11Kit, PeerP11KitTPM2)
		return r
	}
	var rows []CryptoRow
	for _, p := range s.in.P11.Rows {
		rows = append(rows, CryptoRow{System: p.System, Workload: p.Workload, MedianNs: p.MedianNs, Err: p.Err})
	}
	r.TEP = find(rows, work, UnitNs, SystemTEP)
	r.Peers = map[string]Figure{
		PeerRaw:        find(rows, work, UnitNs, SystemPTYEcho),
		PeerSoftHSM:    find(rows, work, UnitNs, SystemSoftHSM),
		PeerTPM2PKCS11: find(rows, work, UnitNs, SystemTPM2PKCS11, SystemTPM2PKCS11Direct),
		PeerP11Kit:     find(rows, work, UnitNs, SystemP11Kit),
		PeerP11KitTPM2: find(rows, work, UnitNs, SystemP11KitTPM2, SystemP11KitTPM2Direct),
	}
	return r
}

// The systems of the link rows, and of W5's raw figure.
const (
	linkFramed = "framed link over a pty"
	linkRaw    = "raw pty echo"
	linkOneWay = "bare pty, one way"
)

// linkRow is the link's round trip of size bytes beside the raw echo.
func (s *summarizer) linkRow(name string, size int) SummaryRow {
	framed, raw := s.roundTrips(size)
	return SummaryRow{Workload: name, Unit: UnitNs, TEP: framed, Peers: map[string]Figure{PeerRaw: raw}}
}

// roundTrips are the link part's median round trips of size bytes: the
// framed link's and the raw pty echo's.
func (s *summarizer) roundTrips(size int) (framed, raw Figure) {
	if s.in.Link == nil {
		f := failed("link", s.in.LinkErr)
		return f, f
	}
	for _, l := range s.in.Link {
		if l.Size == size {
			return Figure{System: linkFramed, Value: float64(l.FramedMedianNs)}, Figure{System: linkRaw, Value: float64(l.RawMedianNs)}
		}
	}
	err := fmt.Sprintf("link: %d bytes not measured", size)
	return Figure{System: linkFramed, Err: err}, Figure{System: linkRaw, Err: err}
}

// oneWay is the bare pty's MiB/s carrying size bytes from the guest's end
// to the server's, from the link part.
func (s *summarizer) oneWay(size int) Figure {
	if s.in.Link == nil {
		return Figure{System: linkOneWay, Err: failed("link", s.in.LinkErr).Err}
	}
	for _, l := range s.in.Link {
		if l.Size == size && l.OneWayMiBps > 0 {
			return Figure{System: linkOneWay, Value: l.OneWayMiBps}
		}
	}
	return Figure{System: linkOneWay, Err: fmt.Sprintf("link: %d bytes one way not measured", size)}
}

// cryptoRow is Crypto's workload work: TEP on swtpm beside the raw TPM,
// where a TPM does work, the bare pty's one-way rate for a digest (see
// PeerRaw), and the PKCS#11 peers that run it.
func (s *summarizer) cryptoRow(name, work string) SummaryRow {
	digest := work == WorkDigest || work == WorkDigestQuery
	unit := UnitNs
	if digest || work == WorkAES || work == WorkAESParts {
		unit = UnitMiBps
	}
	r := SummaryRow{Workload: name, Unit: unit, Peers: map[string]Figure{}}
	peers := []string{PeerSoftHSM, PeerTPM2PKCS11, PeerP11Kit}
	if rawTPMDoes(work) {
		peers = append([]string{PeerRaw}, peers...)
	}
	if digest {
		r.Peers[PeerRaw] = s.oneWay(aesBulk)
	}
	// p11-kit to tpm2-pkcs11 skips AES: see cryptoSystems.
	if work != WorkAES && work != WorkAESParts {
		peers = append(peers, PeerP11KitTPM2)
	}
	if s.in.Crypto == nil {
		r.TEP = failed("crypto", s.in.CryptoErr)
		maps.Copy(r.Peers, everyPeer(r.TEP, peers...))
		return r
	}
	rows := s.in.Crypto.Rows
	systems := map[string][]string{
		PeerRaw:        {SystemRawTPM},
		PeerSoftHSM:    {SystemSoftHSM},
		PeerTPM2PKCS11: {SystemTPM2PKCS11, SystemTPM2PKCS11Direct},
		PeerP11Kit:     {SystemP11Kit},
		PeerP11KitTPM2: {SystemP11KitTPM2, SystemP11KitTPM2Direct},
	}
	r.TEP = find(rows, work, unit, SystemTEPSWTPM)
	for _, p := range peers {
		r.Peers[p] = find(rows, work, unit, systems[p]...)
	}
	return r
}

// rawTPMDoes says whether the raw TPM runs Crypto's workload work: call
// only picks the operation, so a zero rawTPM can answer.
func rawTPMDoes(work string) bool {
	return (&rawTPM{}).call(work) != nil
}

// w7Row is a W7 run's aggregate rate beside the raw TPM's single stream.
func (s *summarizer) w7Row(name string, w *W7Result, err string) SummaryRow {
	r := SummaryRow{Workload: name, Unit: UnitOpsPerS}
	if w == nil {
		r.TEP = failed("w7", err)
		r.Peers = everyPeer(r.TEP, PeerRaw)
		return r
	}
	if w.SWTPMNiceErr != "" {
		s.note(fmt.Sprintf("%s: swtpm ran at the clients' priority: %s", name, w.SWTPMNiceErr))
	} else {
		s.note(fmt.Sprintf("%s: both swtpms (TEP's and the raw TPM's) at nice %d", name, w.SWTPMNice))
	}
	r.TEP = Figure{System: SystemTEPSWTPM, Value: w.OpsPerS}
	raw := Figure{System: SystemRawTPM, Value: w.RawOpsPerS}
	if w.RawErr != "" {
		raw = Figure{System: SystemRawTPM, Err: "w7: " + w.RawErr}
	}
	r.Peers = map[string]Figure{PeerRaw: raw}
	if w.Errors > 0 {
		s.note(fmt.Sprintf("w7: %d failed signatures, the first: %s", w.Errors, w.FirstError))
	}
	return r
}

// The memory rows' figures from P11.
const (
	rssTEPDIdle = "tepd, idle, 6 ports"
	rssAdded    = "added to a host by "
)

// idleRow is tepd's memory, idle with its six ports, from P11 (tepd on
// its simulator, one host connected), beside p11-kit remote's with its
// module; from W7 (tepd on swtpm before any host) when P11 has none.
func (s *summarizer) idleRow() SummaryRow {
	r := SummaryRow{Workload: "tepd RSS idle, 6 ports", Unit: UnitKiB}
	if w := s.in.W7; w != nil && w.RSSIdleKiB > 0 {
		fromW7 := Figure{System: "tepd on swtpm, before any host (w7)", Value: float64(w.RSSIdleKiB)}
		if s.in.P11 == nil {
			r.TEP = fromW7
			return r
		}
		s.note(fmt.Sprintf("%s: %.1f MiB; the summary has tepd on its simulator with a host connected (p11)", fromW7.System, fromW7.Value/1024))
	}
	r.TEP = s.rss(rssTEPDIdle, SystemTEP)
	r.Peers = map[string]Figure{
		PeerP11Kit:     s.rss("p11-kit remote + SoftHSMv2, idle", SystemP11Kit),
		PeerP11KitTPM2: s.rss("p11-kit remote + tpm2-pkcs11, idle", SystemP11KitTPM2, SystemP11KitTPM2Direct),
	}
	return r
}

// loadRow is tepd's most memory while W7's processes sign.
func (s *summarizer) loadRow() SummaryRow {
	r := SummaryRow{Workload: "tepd RSS max under W7", Unit: UnitKiB}
	if s.in.W7 == nil {
		r.TEP = failed("w7", s.in.W7Err)
	} else {
		r.TEP = Figure{System: SystemTEPSWTPM, Value: float64(s.in.W7.RSSMaxKiB)}
	}
	return r
}

// providerRow is what loading each module and C_Initialize add to a host
// process, from P11; both p11-kit systems load p11-kit-client.so.
func (s *summarizer) providerRow() SummaryRow {
	r := SummaryRow{Workload: "RSS a module adds to its host", Unit: UnitKiB}
	r.TEP = s.rss(rssAdded+"libtep_interface.so", SystemTEP)
	r.Peers = map[string]Figure{
		PeerSoftHSM:    s.rss(rssAdded+"libsofthsm2.so", SystemSoftHSM),
		PeerTPM2PKCS11: s.rss(rssAdded+"libtpm2_pkcs11.so", SystemTPM2PKCS11, SystemTPM2PKCS11Direct),
		PeerP11Kit:     s.rss(rssAdded+"p11-kit-client.so", SystemP11Kit),
		PeerP11KitTPM2: s.rss(rssAdded+"p11-kit-client.so", SystemP11KitTPM2, SystemP11KitTPM2Direct),
	}
	return r
}

// rss is P11's memory figure whose What begins with what (a module's
// name may have a version after it), or else why the first of systems,
// which it belongs to, could not run.
func (s *summarizer) rss(what string, systems ...string) Figure {
	if s.in.P11 == nil {
		return failed("p11", s.in.P11Err)
	}
	for _, m := range s.in.P11.RSS {
		if !strings.HasPrefix(m.What, what) {
			continue
		}
		if m.Err != "" {
			return Figure{System: m.What, Err: fmt.Sprintf("%s: %s", m.What, m.Err)}
		}
		return Figure{System: m.What, Value: float64(m.KiB)}
	}
	for _, r := range s.in.P11.Rows {
		if r.Workload == "" && r.Err != "" && slices.Contains(systems, r.System) {
			return Figure{System: what, Err: fmt.Sprintf("%s could not run: %s", r.System, r.Err)}
		}
	}
	return Figure{System: what, Err: fmt.Sprintf("p11: no figure for %q", what)}
}

func p11Notes(r *P11Result) []string {
	if r == nil {
		return nil
	}
	return r.Notes
}

func cryptoNotes(r *CryptoResult) []string {
	if r == nil {
		return nil
	}
	return r.Notes
}
