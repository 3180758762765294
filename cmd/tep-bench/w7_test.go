package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os/exec"
	"strings"
	"testing"

	"tep.dev/tep/bench"
)

// tepRun runs tep-bench with args and -build, with a private TMPDIR, and
// checks afterwards that no process it started is left.
func tepRun(t *testing.T, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("swtpm"); err != nil {
		t.Fatal("swtpm is missing: run scripts/deps.sh")
	}
	build := tepBuild(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	var out, errOut bytes.Buffer
	if err := run(append(args, "-build", build), nil, &out, &errOut); err != nil {
		t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", args[0], err, out.String(), errOut.String())
	}
	if left := processesUsing(tmp); len(left) > 0 {
		t.Errorf("processes left running: %q", left)
	}
	return out.String()
}

// checkW7 checks W7's result, run with ECDSA on ports×procs processes
// for durS seconds.
func checkW7(t *testing.T, res *bench.W7Result, ports, procs int, durS float64) {
	t.Helper()
	if res.Mech != "ecdsa" || res.Workload != bench.WorkW7ECDSA || res.Ports != ports || res.ProcsPerPort != procs || res.DurationS != durS {
		t.Errorf("run described as %s %q, %d×%d, %v s; want ecdsa, %d×%d, %v s", res.Mech, res.Workload, res.Ports, res.ProcsPerPort, res.DurationS, ports, procs, durS)
	}
	if res.Calls <= 0 || res.OpsPerS <= 0 || res.WallS < durS || res.MedianNs <= 0 || res.P99Ns < res.MedianNs {
		t.Errorf("empty measurement: %d calls, %v ops/s in %v s, median %d, p99 %d", res.Calls, res.OpsPerS, res.WallS, res.MedianNs, res.P99Ns)
	}
	if res.Errors != 0 || res.FirstError != "" {
		t.Errorf("%d errors, first %q; want none", res.Errors, res.FirstError)
	}
	if res.RawErr != "" || res.RawCalls <= 0 || res.RawOpsPerS <= 0 || res.VsRaw <= 0 {
		t.Errorf("raw TPM: %d calls, %v ops/s, ratio %v, error %q; want figures", res.RawCalls, res.RawOpsPerS, res.VsRaw, res.RawErr)
	}
	if len(res.PerPort) != ports || len(res.PerProc) != ports*procs {
		t.Fatalf("%d ports, %d processes; want %d, %d", len(res.PerPort), len(res.PerProc), ports, ports*procs)
	}
	for _, p := range res.PerPort {
		if p.Procs != procs || p.Calls <= 0 || p.OpsPerS <= 0 {
			t.Errorf("port %+v: want %d processes and calls", p, procs)
		}
	}
	for i, p := range res.PerProc {
		if p.Calls <= 0 || p.OpsPerS <= 0 || p.Errors != 0 {
			t.Errorf("process %d: %+v, want calls and no errors", i, p)
		}
	}
	if res.LowestPortShare <= 0 || res.LowestPortShare > 1 || res.ProcMinOpsPerS <= 0 || res.ProcMaxOpsPerS < res.ProcMinOpsPerS {
		t.Errorf("spread: lowest port %v of the mean, processes %v to %v ops/s", res.LowestPortShare, res.ProcMinOpsPerS, res.ProcMaxOpsPerS)
	}
	if res.RSSIdleKiB <= 0 || res.RSSMaxKiB <= 0 {
		t.Errorf("tepd VmRSS idle %d KiB, under load %d KiB; want both", res.RSSIdleKiB, res.RSSMaxKiB)
	}
}

// soakTest runs TestSoakJSON, a 20 s soak with its checks: make soak
// passes it; make test, which must stay short, does not.
var soakTest = flag.Bool("soak", false, "run TestSoakJSON, a 20 s soak")

func TestSoakJSON(t *testing.T) {
	if !*soakTest {
		t.Skip("a 20 s soak; make soak runs it (go test -run TestSoakJSON ./cmd/tep-bench -soak)")
	}
	out := tepRun(t, "soak", "-duration", "20s", "-json")
	var res bench.SoakResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if res.DurationS != 20 || res.Workers != 24 || res.Signatures <= 0 {
		t.Errorf("%v s, %d workers, %d signatures; want 20 s, 24 workers, signatures", res.DurationS, res.Workers, res.Signatures)
	}
	// Kills come every 1 to 2.5 s in a 20 s run.
	if res.Kills < 4 {
		t.Errorf("%d workers killed, want at least 4", res.Kills)
	}
	if res.Errors != 0 || len(res.ErrorTexts) != 0 {
		t.Errorf("%d errors, want none: %+v", res.Errors, res.ErrorTexts)
	}
	if res.Survivors <= 0 || len(res.FinalFailures) != 0 {
		t.Errorf("%d survivors, failures %q; want survivors that all sign and finalise", res.Survivors, res.FinalFailures)
	}
	if res.CheckErr != "" || len(res.Lost) != 0 {
		t.Errorf("objects lost %q (check error %q), want none", res.Lost, res.CheckErr)
	}
	if res.RSSBaselineKiB <= 0 || res.RSSFinalKiB <= 0 {
		t.Errorf("tepd VmRSS baseline %d KiB, final %d KiB; want both", res.RSSBaselineKiB, res.RSSFinalKiB)
	}
	// tepd was killed: at least its storage primary key is left.
	if res.TPMErr != "" || res.TPMTransients < 1 {
		t.Errorf("TPM handles left: %d transient, %d sessions, error %q; want a count with the storage key", res.TPMTransients, res.TPMSessions, res.TPMErr)
	}
}

func TestW7Table(t *testing.T) {
	var out bytes.Buffer
	res := &bench.W7Result{Workload: bench.WorkW7RSA, Ports: 1, ProcsPerPort: 1, DurationS: 1, Errors: 2, FirstError: "C_Sign: boom",
		RawErr: "raw TPM: gone", PerPort: []bench.W7Port{{Port: "ttyS4", Procs: 1, Calls: 3, OpsPerS: 3}}}
	if err := w7Table(&out, res); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{bench.WorkW7RSA, "aggregate ÷ raw", "≥ 0.9", "2 (first: C_Sign: boom)", "raw TPM: gone", "ttyS4", "≤ 60.0 MiB"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestW7SoakUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"w7", "-bogus"}, {"w7", "-ports", "0"}, {"w7", "-ports", "7"}, {"w7", "-procs", "0"},
		{"w7", "-duration", "0s"}, {"w7", "-mech", "dsa"}, {"soak", "-bogus"}, {"soak", "-duration", "-1s"}} {
		var out bytes.Buffer
		if err := run(args, nil, &out, &out); err == nil {
			t.Errorf("run(%q) succeeded, want an error", args)
		}
	}
}
