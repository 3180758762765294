package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"tep.dev/tep/bench"
)

// summaryRows are the rows all's summary has, in order, and the targets
// each is judged by.
var summaryRows = []struct {
	name   string
	target bool
}{
	{"W1 C_GenerateRandom(32)", true},
	{"W1 C_GetSessionInfo", true},
	{"link 32 B round trip", false},
	{"link 1 MiB round trip", false},
	{"W2 RSA-2048 sign", true},
	{"W2 RSA-2048 verify", false},
	{"W3 ECDSA P-256 sign", true},
	{"W3 ECDSA P-256 verify", false},
	{"W4 AES-256-CBC 1 MiB single-part", true},
	{"W4 AES-256-CBC 1 MiB in 64 KiB parts", false},
	{"W5 SHA-256 1 MiB", true},
	{"W5 SHA-256 1 MiB, length query first", true},
	{"W6 RSA-2048 keygen", false},
	{"W7 aggregate sign rate", true},
	{"W7 aggregate sign rate, swtpm at the clients' priority", false},
	{"tepd RSS idle, 6 ports", true},
	{"tepd RSS max under W7", true},
	{"RSS a module adds to its host", true},
}

// The smoke run's size: every part runs, each as briefly as it can still
// give every figure (p11 makes at least 10 calls, crypto at least one per
// workload). The full bench is make bench.
const (
	smokeScale      = 0.01
	smokeW7Duration = time.Second
)

// TestAllJSON is the bench's smoke test, its one run of the systems: all
// at a small scale. The summary must have every row with TEP's figure,
// the peers that ran beside it, and every target judged; each part's own
// result must be whole (the check* functions), and each part's table
// must render it.
func TestAllJSON(t *testing.T) {
	for _, tool := range []string{"socat", "p11-kit", "softhsm2-util", "tpm2_ptool", "pkcs11-tool", "tpm2-abrmd", "dbus-daemon"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing: run scripts/deps.sh", tool)
		}
	}
	out := tepRun(t, "all", "-scale", fmt.Sprint(smokeScale), "-w7-duration", smokeW7Duration.String(), "-json")
	var res allResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if len(res.Errors) > 0 {
		t.Errorf("parts failed: %q", res.Errors)
	}
	rows := res.Summary.Rows
	if len(rows) != len(summaryRows) {
		t.Fatalf("%d summary rows, want %d: %+v", len(rows), len(summaryRows), rows)
	}
	for i, want := range summaryRows {
		r := rows[i]
		if r.Workload != want.name {
			t.Errorf("row %d is %q, want %q", i, r.Workload, want.name)
			continue
		}
		if r.TEP.Value <= 0 || r.TEP.Err != "" || r.TEP.System == "" {
			t.Errorf("%s: TEP's figure %+v, want a value", r.Workload, r.TEP)
		}
		for p, f := range r.Peers {
			if (f.Value > 0) != (f.Ratio > 0) || f.Value <= 0 && f.Err == "" {
				t.Errorf("%s: %s's figure %+v, want a value with a ratio, or an error", r.Workload, p, f)
			}
		}
		switch {
		case want.target && r.Target == nil:
			t.Errorf("%s: no target", r.Workload)
		case !want.target && r.Target != nil:
			t.Errorf("%s: target %+v, want none", r.Workload, r.Target)
		case r.Target != nil && r.Target.Verdict != bench.TargetMet && r.Target.Verdict != bench.TargetMissed:
			t.Errorf("%s: target %+v, want it judged", r.Workload, r.Target)
		}
	}
	// The references that need no TPM broker always run.
	byName := map[string]bench.SummaryRow{}
	for _, r := range rows {
		byName[r.Workload] = r
	}
	for _, c := range []struct{ row, peer string }{
		{"W1 C_GetSessionInfo", bench.PeerP11Kit}, {"W1 C_GenerateRandom(32)", bench.PeerRaw},
		{"link 1 MiB round trip", bench.PeerRaw},
		{"W2 RSA-2048 sign", bench.PeerRaw}, {"W5 SHA-256 1 MiB, length query first", bench.PeerSoftHSM},
		{"W5 SHA-256 1 MiB, length query first", bench.PeerP11Kit}, {"W7 aggregate sign rate", bench.PeerRaw},
	} {
		if f := byName[c.row].Peers[c.peer]; f.Value <= 0 {
			t.Errorf("%s: %s's figure %+v, want a value", c.row, c.peer, f)
		}
	}
	if len(res.Link) != 2 || res.P11 == nil || len(res.P11.Rows) == 0 || len(res.P11.RSS) == 0 ||
		res.Crypto == nil || len(res.Crypto.Rows) == 0 || res.W7 == nil || len(res.W7.PerProc) != 24 ||
		res.W7Shared == nil || len(res.W7Shared.PerProc) != 24 || (res.W7.SWTPMNice != bench.ChipNice && res.W7.SWTPMNiceErr == "") || res.W7Shared.SWTPMNice != 0 {
		t.Fatalf("the parts' results are not all there: %d link sizes, p11 %v, crypto %v, w7 %v, w7 -shared-cpu %v", len(res.Link), res.P11 != nil, res.Crypto != nil, res.W7 != nil, res.W7Shared != nil)
	}
	checkP11(t, res.P11, p11Calls(smokeScale))
	checkP11Table(t, res.P11)
	checkCrypto(t, res.Crypto)
	checkCryptoTable(t, res.Crypto)
	for _, w7 := range []*bench.W7Result{res.W7, res.W7Shared} {
		checkW7(t, w7, allW7Ports, allW7Procs, smokeW7Duration.Seconds())
	}
	var table bytes.Buffer
	if err := summaryTable(&table, &res, smokeScale, smokeW7Duration); err != nil || !strings.Contains(table.String(), "W7 aggregate sign rate") {
		t.Errorf("summary table: %v\n%s", err, table.String())
	}
}

func TestSummaryTable(t *testing.T) {
	in := bench.SummaryInput{
		Link:   []bench.LinkResult{{Size: 32, RawMedianNs: 20_000, FramedMedianNs: 30_000}},
		P11Err: "tepd did not start",
		Crypto: &bench.CryptoResult{Rows: []bench.CryptoRow{
			{System: bench.SystemTEPSWTPM, Workload: bench.WorkRSASign, MedianNs: 4_600_000},
			{System: bench.SystemRawTPM, Workload: bench.WorkRSASign, MedianNs: 4_000_000},
			{System: bench.SystemTEPSWTPM, Workload: bench.WorkDigest, MedianNs: 4_000_000, MiBps: 250},
			{System: bench.SystemP11Kit, Workload: bench.WorkDigest, MedianNs: 5_000_000, MiBps: 200},
		}},
		W7Err: "tepd did not start",
	}
	res := &allResult{Summary: bench.Summarize(in)}
	var out bytes.Buffer
	if err := summaryTable(&out, res, 0.5, time.Second); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		"workload", "TEP", "p11-kit→tpm2-pkcs11", "target: this run", "p11 (1000 calls each)",
		"30.0 µs", "20.0 µs ×1.50", // link 32 B
		"4.60 ms", "4.00 ms ×1.15", "≤ 1.1× raw: missed (1.15× time; the floor, raw + two pty echoes, is 1.01×)", // W2 sign
		"250.0 MiB/s", "200.0 MiB/s ×0.80", "MiB/s ≥ 1.2× p11-kit→SoftHSMv2: met (1.25× MiB/s)", // W5
		"≤ 0.5× p11-kit→SoftHSMv2: not evaluated (no TEP figure)", // W1
		"below 1, TEP is faster", "the floor under a time",
		"note: p11: tepd did not start", "note: w7: tepd did not start",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("table lacks %q:\n%s", want, text)
		}
	}
	// A peer that could not run is a dash; W1's row has five, its raw
	// echo included, which p11 times.
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "W1 C_GenerateRandom(32)") && strings.Count(line, "–") != 6 {
			t.Errorf("W1's line %q, want a dash for TEP and each of its five peers", line)
		}
	}
}
