package bench

import (
	"math"
	"slices"
	"strings"
	"testing"
)

// summaryInput is a run in which every part ran: TEP meets every target
// but W4's and the idle memory, tpm2-pkcs11 could not be set up, and
// p11-kit to SoftHSMv2 failed one workload.
func summaryInput() SummaryInput {
	p11 := &P11Result{
		Rows: []P11Row{
			{System: SystemTPM2PKCS11Direct, Err: "no swtpm"},
			{System: SystemTEP, Workload: p11Workloads[0], MedianNs: 40_000},
			{System: SystemSoftHSM, Workload: p11Workloads[0], MedianNs: 1_000},
			{System: SystemP11Kit, Workload: p11Workloads[0], MedianNs: 100_000},
			{System: SystemP11KitTPM2, Workload: p11Workloads[0], MedianNs: 200_000},
			{System: SystemTEP, Workload: p11Workloads[1], MedianNs: 60_000},
			{System: SystemSoftHSM, Workload: p11Workloads[1], MedianNs: 500},
			{System: SystemP11Kit, Workload: p11Workloads[1], Calls: 3, Err: "call 4: CKR_DEVICE_ERROR"},
			{System: SystemP11KitTPM2, Workload: p11Workloads[1], MedianNs: 100_000},
			{System: SystemPTYEcho, Workload: p11Workloads[0], MedianNs: 20_000},
			{System: SystemPTYEcho, Workload: p11Workloads[1], MedianNs: 25_000},
		},
		RSS: []P11RSS{
			{What: rssAdded + "libtep_interface.so", KiB: 8 << 10},
			{What: rssAdded + "libsofthsm2.so", KiB: 2 << 10},
			{What: rssAdded + "p11-kit-client.so", KiB: 1 << 10},
			{What: rssTEPDIdle, KiB: 40 << 10},
			{What: "p11-kit remote + SoftHSMv2, idle", KiB: 10 << 10},
			{What: "p11-kit remote + tpm2-pkcs11, idle", KiB: 20 << 10},
		},
		Notes: []string{"a note of p11's"},
	}
	crypto := &CryptoResult{Notes: []string{"a note of p11's", "a note of crypto's"}}
	add := func(work string, tep, raw, hsm, kit float64) {
		for _, r := range []struct {
			sys string
			v   float64
		}{{SystemTEPSWTPM, tep}, {SystemRawTPM, raw}, {SystemSoftHSM, hsm}, {SystemP11Kit, kit}} {
			if r.v == 0 {
				continue
			}
			row := CryptoRow{System: r.sys, Workload: work, MedianNs: int64(r.v)}
			if strings.Contains(work, "MiB") {
				row.MiBps = r.v
			}
			crypto.Rows = append(crypto.Rows, row)
		}
	}
	crypto.Rows = append(crypto.Rows, CryptoRow{System: SystemTPM2PKCS11Direct, Err: "no swtpm"})
	add(WorkRSASign, 4_300_000, 4_000_000, 1_000_000, 1_200_000) // 1.075× raw: met
	add(WorkRSAVerify, 300_000, 0, 50_000, 100_000)
	add(WorkECDSASign, 3_000_000, 2_500_000, 100_000, 200_000) // 1.2× raw: met
	add(WorkECDSAVerify, 300_000, 0, 100_000, 200_000)
	add(WorkAES, 8, 10, 400, 100) // MiB/s: 0.8× raw, missed
	add(WorkAESParts, 9, 10, 400, 100)
	add(WorkDigest, 300, 0, 600, 200)      // 1.5× p11-kit: met
	add(WorkDigestQuery, 200, 0, 600, 100) // 2×: met
	add(WorkRSAKeygen, 200_000_000, 190_000_000, 50_000_000, 60_000_000)
	w7 := &W7Result{Calls: 1000, OpsPerS: 300, RawOpsPerS: 320, LowestPortShare: 0.9, RSSIdleKiB: 20 << 10, RSSMaxKiB: 50 << 10}
	link := []LinkResult{
		{Size: 32, RawMedianNs: 20_000, FramedMedianNs: 30_000},
		{Size: 4 << 10, RawMedianNs: 1, FramedMedianNs: 1},
		{Size: 1 << 20, RawMedianNs: 5_000_000, FramedMedianNs: 5_500_000, OneWayMiBps: 250},
	}
	return SummaryInput{Link: link, P11: p11, Crypto: crypto, W7: w7}
}

// summaryRows are the rows every summary has, in order.
var summaryRows = []string{
	"W1 C_GenerateRandom(32)", "W1 C_GetSessionInfo", "link 32 B round trip", "link 1 MiB round trip",
	"W2 RSA-2048 sign", "W2 RSA-2048 verify", "W3 ECDSA P-256 sign", "W3 ECDSA P-256 verify",
	"W4 AES-256-CBC 1 MiB single-part", "W4 AES-256-CBC 1 MiB in 64 KiB parts",
	"W5 SHA-256 1 MiB", "W5 SHA-256 1 MiB, length query first", "W6 RSA-2048 keygen",
	"W7 aggregate sign rate", "tepd RSS idle, 6 ports", "tepd RSS max under W7", "RSS a module adds to its host",
}

func rowsByName(t *testing.T, s Summary) map[string]SummaryRow {
	t.Helper()
	if len(s.Rows) != len(summaryRows) {
		t.Fatalf("%d rows, want %d", len(s.Rows), len(summaryRows))
	}
	m := map[string]SummaryRow{}
	for i, r := range s.Rows {
		if r.Workload != summaryRows[i] {
			t.Errorf("row %d is %q, want %q", i, r.Workload, summaryRows[i])
		}
		m[r.Workload] = r
	}
	return m
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestSummarizeRatios(t *testing.T) {
	rows := rowsByName(t, Summarize(summaryInput()))
	for _, tc := range []struct {
		row, peer   string
		tep, value  float64
		ratio       float64
		system, err string // of the peer
	}{
		{"W1 C_GenerateRandom(32)", PeerP11Kit, 40_000, 100_000, 0.4, SystemP11Kit, ""},
		{"W1 C_GenerateRandom(32)", PeerRaw, 40_000, 20_000, 2, SystemPTYEcho, ""},
		{"W1 C_GetSessionInfo", PeerRaw, 60_000, 25_000, 2.4, SystemPTYEcho, ""},
		{"W1 C_GenerateRandom(32)", PeerSoftHSM, 40_000, 1_000, 40, SystemSoftHSM, ""},
		{"W1 C_GenerateRandom(32)", PeerP11KitTPM2, 40_000, 200_000, 0.2, SystemP11KitTPM2, ""},
		{"W1 C_GetSessionInfo", PeerP11Kit, 60_000, 0, 0, SystemP11Kit, "CKR_DEVICE_ERROR"},
		{"link 32 B round trip", PeerRaw, 30_000, 20_000, 1.5, linkRaw, ""},
		{"link 1 MiB round trip", PeerRaw, 5_500_000, 5_000_000, 1.1, linkRaw, ""},
		{"W5 SHA-256 1 MiB", PeerRaw, 300, 250, 250.0 / 300, linkOneWay, ""},
		{"W2 RSA-2048 sign", PeerRaw, 4_300_000, 4_000_000, 1.075, SystemRawTPM, ""},
		{"W2 RSA-2048 sign", PeerTPM2PKCS11, 4_300_000, 0, 0, SystemTPM2PKCS11Direct, "no swtpm"},
		// Throughput: the ratio is still time over time.
		{"W4 AES-256-CBC 1 MiB single-part", PeerRaw, 8, 10, 1.25, SystemRawTPM, ""},
		{"W5 SHA-256 1 MiB", PeerP11Kit, 300, 200, 2.0 / 3, SystemP11Kit, ""},
		// W7: TEP's rate over the raw TPM's.
		{"W7 aggregate sign rate", PeerRaw, 300, 320, 300.0 / 320, SystemRawTPM, ""},
		{"tepd RSS idle, 6 ports", PeerP11Kit, 40 << 10, 10 << 10, 4, "p11-kit remote + SoftHSMv2, idle", ""},
		{"RSS a module adds to its host", PeerP11KitTPM2, 8 << 10, 1 << 10, 8, rssAdded + "p11-kit-client.so", ""},
		{"RSS a module adds to its host", PeerTPM2PKCS11, 8 << 10, 0, 0, rssAdded + "libtpm2_pkcs11.so", "no swtpm"},
	} {
		r := rows[tc.row]
		p, ok := r.Peers[tc.peer]
		if !ok {
			t.Errorf("%s: no %s figure", tc.row, tc.peer)
			continue
		}
		if r.TEP.Value != tc.tep || p.Value != tc.value || !near(p.Ratio, tc.ratio) || p.System != tc.system {
			t.Errorf("%s: TEP %v, %s %v (%s) ×%v; want %v, %v (%s) ×%v", tc.row, r.TEP.Value, tc.peer, p.Value, p.System, p.Ratio,
				tc.tep, tc.value, tc.system, tc.ratio)
		}
		if !strings.Contains(p.Err, tc.err) || (tc.err == "") != (p.Err == "") {
			t.Errorf("%s: %s error %q, want one with %q", tc.row, tc.peer, p.Err, tc.err)
		}
	}
}

func TestSummarizePeersThatDoNotApply(t *testing.T) {
	rows := rowsByName(t, Summarize(summaryInput()))
	for _, tc := range []struct {
		row   string
		peers []string
	}{
		{"W1 C_GetSessionInfo", SummaryPeers},
		{"link 32 B round trip", []string{PeerRaw}},
		{"W2 RSA-2048 verify", []string{PeerSoftHSM, PeerTPM2PKCS11, PeerP11Kit, PeerP11KitTPM2}}, // a TPM does not verify
		{"W4 AES-256-CBC 1 MiB single-part", []string{PeerRaw, PeerSoftHSM, PeerTPM2PKCS11, PeerP11Kit}},
		{"W5 SHA-256 1 MiB, length query first", []string{PeerRaw, PeerSoftHSM, PeerTPM2PKCS11, PeerP11Kit, PeerP11KitTPM2}},
		{"W6 RSA-2048 keygen", SummaryPeers},
		{"W7 aggregate sign rate", []string{PeerRaw}},
		{"tepd RSS max under W7", nil},
	} {
		var got []string
		for _, p := range SummaryPeers {
			if _, ok := rows[tc.row].Peers[p]; ok {
				got = append(got, p)
			}
		}
		if strings.Join(got, ",") != strings.Join(tc.peers, ",") {
			t.Errorf("%s: peers %q, want %q", tc.row, got, tc.peers)
		}
	}
}

func TestSummarizeTargets(t *testing.T) {
	in := summaryInput()
	rows := rowsByName(t, Summarize(in))
	want := map[string]string{
		"W1 C_GenerateRandom(32)":              TargetMet,          // 0.4× p11-kit
		"W1 C_GetSessionInfo":                  TargetNotEvaluated, // p11-kit failed
		"W2 RSA-2048 sign":                     TargetMet,          // 1.075× raw
		"W3 ECDSA P-256 sign":                  TargetMet,          // 1.2× raw
		"W4 AES-256-CBC 1 MiB single-part":     TargetMissed,       // 0.8× raw throughput
		"W5 SHA-256 1 MiB":                     TargetMet,          // 1.5× p11-kit throughput
		"W5 SHA-256 1 MiB, length query first": TargetMet,
		"W7 aggregate sign rate":               TargetMet,    // 0.94× raw
		"tepd RSS idle, 6 ports":               TargetMissed, // 40 MiB
		"tepd RSS max under W7":                TargetMet,    // 50 MiB
		"RSS a module adds to its host":        TargetMet,    // 8 MiB
	}
	for _, r := range rows {
		w, ok := want[r.Workload]
		switch {
		case !ok && r.Target != nil:
			t.Errorf("%s: target %+v, want none", r.Workload, r.Target)
		case ok && r.Target == nil:
			t.Errorf("%s: no target, want %s", r.Workload, w)
		case ok && (r.Target.Verdict != w || r.Target.Text == "" || r.Target.Detail == ""):
			t.Errorf("%s: target %+v, want %s with its text and detail", r.Workload, r.Target, w)
		}
	}
	// The detail is the ratio the verdict rests on, and where there is
	// one, the bound the rig sets in this run, as a ratio to the same
	// peer: a raw pty echo under W1, the bare pty's one-way rate over W5,
	// the raw TPM and two pty echoes (C_SignInit, C_Sign) under a
	// signature. A target beyond its bound says so.
	details := func(in SummaryInput) map[string]string {
		m := map[string]string{}
		for name, r := range rowsByName(t, Summarize(in)) {
			if r.Target != nil {
				m[name] = r.Target.Detail
			}
		}
		return m
	}
	for _, tc := range []struct {
		change func(*SummaryInput)
		row    string
		want   string
	}{
		{nil, "W4 AES-256-CBC 1 MiB single-part", "0.80× MiB/s"},
		{nil, "W5 SHA-256 1 MiB", "1.50× MiB/s; the ceiling, the bare pty one way, is 1.25×"},
		{nil, "W1 C_GenerateRandom(32)", "0.40× time; the floor, a raw pty echo, is 0.20×"},
		{nil, "W3 ECDSA P-256 sign", "1.20× time; the floor, raw + two pty echoes, is 1.02×"},
		{func(in *SummaryInput) { in.P11.Rows[9].MedianNs = 60_000 },
			"W1 C_GenerateRandom(32)", "0.40× time; the floor, a raw pty echo, is 0.60×, above the target"},
		{func(in *SummaryInput) { in.Link[2].OneWayMiBps = 230 },
			"W5 SHA-256 1 MiB", "1.50× MiB/s; the ceiling, the bare pty one way, is 1.15×, below the target"},
		{func(in *SummaryInput) { in.Link[0].RawMedianNs = 400_000 },
			"W3 ECDSA P-256 sign", "1.20× time; the floor, raw + two pty echoes, is 1.32×, above the target"},
		// No echo, no floor: the raw TPM alone is not one.
		{func(in *SummaryInput) { in.Link = nil; in.LinkErr = "no pty" },
			"W3 ECDSA P-256 sign", "1.20× time"},
	} {
		in := summaryInput()
		if tc.change != nil {
			tc.change(&in)
		}
		if d := details(in)[tc.row]; d != tc.want {
			t.Errorf("%s: detail %q, want %q", tc.row, d, tc.want)
		}
	}

	// W7 misses on any one of its three conditions.
	for _, change := range []func(*W7Result){
		func(w *W7Result) { w.OpsPerS = 280 },
		func(w *W7Result) { w.Errors, w.FirstError = 1, "C_Sign: CKR_DEVICE_ERROR" },
		func(w *W7Result) { w.LowestPortShare = 0.4 },
	} {
		in := summaryInput()
		change(in.W7)
		r := rowsByName(t, Summarize(in))["W7 aggregate sign rate"]
		if r.Target.Verdict != TargetMissed {
			t.Errorf("W7 %+v: %s, want %s", in.W7, r.Target.Verdict, TargetMissed)
		}
	}
}

func TestSummarizeMissingParts(t *testing.T) {
	in := summaryInput()
	in.P11, in.P11Err = nil, "tepd did not start"
	in.Crypto, in.CryptoErr = nil, ""
	in.W7.RawErr = "raw TPM: no swtpm"
	in.Link = in.Link[:1]
	s := Summarize(in)
	rows := rowsByName(t, s)
	for _, tc := range []struct{ row, err string }{
		{"W1 C_GenerateRandom(32)", "p11: tepd did not start"},
		{"link 1 MiB round trip", "link: 1048576 bytes not measured"},
		{"W5 SHA-256 1 MiB", "crypto: not run"},
		{"W2 RSA-2048 sign", "crypto: not run"},
		{"RSS a module adds to its host", "p11: tepd did not start"},
	} {
		r := rows[tc.row]
		if r.TEP.Value != 0 || r.TEP.Err != tc.err {
			t.Errorf("%s: TEP %+v, want no figure and error %q", tc.row, r.TEP, tc.err)
		}
		for p, f := range r.Peers {
			if f.Value != 0 || f.Err == "" {
				t.Errorf("%s: %s %+v, want an error", tc.row, p, f)
			}
		}
		if r.Target != nil && r.Target.Verdict != TargetNotEvaluated {
			t.Errorf("%s: target %+v, want %s", tc.row, r.Target, TargetNotEvaluated)
		}
	}
	// The idle memory falls back on W7's figure.
	if r := rows["tepd RSS idle, 6 ports"]; r.TEP.Value != 20<<10 || r.Target.Verdict != TargetMet {
		t.Errorf("idle memory %+v, target %+v; want W7's 20 MiB, met", r.TEP, r.Target)
	}
	w7 := rows["W7 aggregate sign rate"]
	if w7.TEP.Value != 300 || w7.Peers[PeerRaw].Err == "" || w7.Target.Verdict != TargetNotEvaluated {
		t.Errorf("W7 without the raw TPM: %+v, want TEP's figure, raw's error, not evaluated", w7)
	}
	if f := rows["W5 SHA-256 1 MiB"].Peers[PeerRaw]; f.Err != "link: 1048576 bytes one way not measured" {
		t.Errorf("W5's raw figure %+v, want the missing one-way figure", f)
	}
	for _, n := range []string{"p11: tepd did not start", "crypto: not run", "w7: raw TPM: no swtpm", "link: 1048576 bytes not measured", "link: 1048576 bytes one way not measured"} {
		if strings.Count(strings.Join(s.Notes, "\n"), n) != 1 {
			t.Errorf("notes %q, want %q once", s.Notes, n)
		}
	}
}

// W1's floor is the echo timed in W1's rounds; when that could not be
// set up, the row says why, and the target is judged without a floor.
func TestSummarizeW1WithoutEcho(t *testing.T) {
	in := summaryInput()
	in.P11.Rows = slices.DeleteFunc(in.P11.Rows, func(r P11Row) bool { return r.System == SystemPTYEcho })
	in.P11.Rows = append(in.P11.Rows, P11Row{System: SystemPTYEcho, Err: "no ptys"})
	r := rowsByName(t, Summarize(in))["W1 C_GenerateRandom(32)"]
	if f := r.Peers[PeerRaw]; f.Value != 0 || f.Err != SystemPTYEcho+" could not run: no ptys" {
		t.Errorf("W1's raw figure %+v, want the echo's error", f)
	}
	if r.Target == nil || r.Target.Verdict != TargetMet || r.Target.Detail != "0.40× time" {
		t.Errorf("W1's target %+v, want met on 0.40× alone", r.Target)
	}
}

func TestSummarizeNotes(t *testing.T) {
	s := Summarize(summaryInput())
	all := strings.Join(s.Notes, "\n")
	for _, n := range []string{
		"a note of p11's", "a note of crypto's",
		SystemTPM2PKCS11Direct + " could not run: no swtpm",
		SystemP11Kit + ", C_GetSessionInfo: call 4: CKR_DEVICE_ERROR",
		"tepd on swtpm, before any host (w7): 20.0 MiB",
	} {
		if strings.Count(all, n) != 1 {
			t.Errorf("notes have %q %d times, want once:\n%s", n, strings.Count(all, n), all)
		}
	}
}
