package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"tep.dev/tep/bench"
)

// cryptoRun runs tep-bench crypto with a private TMPDIR and checks
// afterwards that no process it started is left.
func cryptoRun(t *testing.T, args ...string) string {
	t.Helper()
	for _, tool := range []string{"swtpm", "softhsm2-util"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing: run scripts/deps.sh", tool)
		}
	}
	build := tepBuild(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	var out, errOut bytes.Buffer
	if err := run(append([]string{"crypto", "-build", build}, args...), nil, &out, &errOut); err != nil {
		t.Fatalf("crypto: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
	}
	if left := processesUsing(tmp); len(left) > 0 {
		t.Errorf("processes left running: %q", left)
	}
	return out.String()
}

func TestCryptoJSON(t *testing.T) {
	out := cryptoRun(t, "-scale", "0.01", "-json")
	var res bench.CryptoResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	rows := map[string]bench.CryptoRow{}
	for _, r := range res.Rows {
		if r.Err != "" {
			t.Errorf("%s %q: %s", r.System, r.Workload, r.Err)
		}
		rows[r.System+" "+r.Workload] = r
	}
	works := []string{bench.WorkRSASign, bench.WorkRSAVerify, bench.WorkECDSASign, bench.WorkECDSAVerify,
		bench.WorkAES, bench.WorkAESParts, bench.WorkDigest, bench.WorkRSAKeygen}
	tpmWorks := map[string]bool{bench.WorkRSASign: true, bench.WorkECDSASign: true,
		bench.WorkAES: true, bench.WorkAESParts: true, bench.WorkRSAKeygen: true}
	for _, w := range works {
		systems := []string{bench.SystemTEPSWTPM, bench.SystemTEPSim, bench.SystemSoftHSM}
		if tpmWorks[w] {
			systems = append(systems, bench.SystemRawTPM)
		}
		for _, sys := range systems {
			r, ok := rows[sys+" "+w]
			if !ok {
				t.Errorf("no row for %s %q", sys, w)
				continue
			}
			if r.Calls < 1 || r.MedianNs <= 0 || r.P99Ns < r.MedianNs || r.OpsPerS <= 0 {
				t.Errorf("%s %q: bad measurement %+v", sys, w, r)
			}
		}
		tep := rows[bench.SystemTEPSWTPM+" "+w]
		if tep.VsSoftHSM <= 0 || tpmWorks[w] != (tep.VsRaw > 0) {
			t.Errorf("%q: TEP-on-swtpm ratios %v ×SoftHSM, %v ×raw; want both where measured", w, tep.VsSoftHSM, tep.VsRaw)
		}
	}
	for _, w := range []string{bench.WorkAES, bench.WorkDigest} {
		if r := rows[bench.SystemSoftHSM+" "+w]; r.MiBps <= 0 {
			t.Errorf("%s %q: no MiB/s: %+v", bench.SystemSoftHSM, w, r)
		}
	}
}

func TestCryptoTable(t *testing.T) {
	out := cryptoRun(t, "-scale", "0.01")
	for _, want := range []string{"workload", "×raw TPM", "×SoftHSM", "MiB/s", bench.SystemTEPSWTPM,
		bench.SystemTEPSim, bench.SystemSoftHSM, bench.SystemRawTPM, bench.WorkRSAKeygen} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
