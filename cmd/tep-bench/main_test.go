package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"tep.dev/tep/bench"
	"tep.dev/tep/provider/providertest"
)

func TestLinkJSON(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run([]string{"link", "-scale", "0.01", "-json"}, nil, &out, &errOut); err != nil {
		t.Fatalf("run: %v (stderr %q)", err, errOut.String())
	}
	var res []struct {
		Size           int     `json:"size"`
		RawMedianNs    int64   `json:"raw_median_ns"`
		FramedMedianNs int64   `json:"framed_median_ns"`
		Throughput     float64 `json:"throughput_ratio"`
		OneWayMiBps    float64 `json:"one_way_mib_s"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	if len(res) != 4 {
		t.Fatalf("got %d sizes, want 4", len(res))
	}
	for _, r := range res {
		if r.RawMedianNs <= 0 || r.FramedMedianNs <= 0 || r.Throughput <= 0 || r.OneWayMiBps <= 0 {
			t.Errorf("size %d: empty measurement %+v", r.Size, r)
		}
	}
}

func TestLinkTable(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"link", "-scale", "0.01"}, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"payload", "32 B", "64 KiB", "1 MiB", "throughput ×raw", "one way MiB/s"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{nil, {"nonsense"}, {"link", "-bogus"}, {"p11", "-bogus"}, {"p11", "-n", "0"}, {"crypto", "-bogus"}, {"crypto", "-scale", "0"},
		{"all", "-bogus"}, {"all", "-scale", "0"}, {"all", "-w7-duration", "0s"}, {"all", "extra"}, {bench.HostCommand}} {
		var out bytes.Buffer
		if err := run(args, nil, &out, &out); err == nil {
			t.Errorf("run(%q) succeeded, want an error", args)
		}
	}
}

// TestMain lets this test binary be p11's host process: P11 runs the
// program it is in again with bench.HostCommand.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == bench.HostCommand {
		if err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "tep-bench:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// tepBuild builds tepd and, if the provider builds at the moment,
// libtep_interface.so into one directory shared by the tests: a process
// must not load two copies of a Go shared library.
func tepBuild(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "tep-bench-build-"); buildErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(buildDir, "tepd"), "tep.dev/tep/cmd/tepd").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build tepd: %v\n%s", err, out)
			return
		}
		if _, err := providertest.Build(buildDir); err != nil {
			// The TEP row then reports the missing library.
			fmt.Fprintln(os.Stderr, "libtep_interface.so does not build now:", err)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildDir
}

// processesUsing returns the command lines of other processes whose
// command line or environment names dir.
func processesUsing(dir string) []string {
	procs, _ := filepath.Glob("/proc/[0-9]*")
	var out []string
	for _, p := range procs {
		if p == fmt.Sprintf("/proc/%d", os.Getpid()) {
			continue
		}
		cmd, _ := os.ReadFile(p + "/cmdline")
		env, _ := os.ReadFile(p + "/environ")
		if bytes.Contains(cmd, []byte(dir)) || bytes.Contains(env, []byte(dir)) {
			out = append(out, string(bytes.ReplaceAll(cmd, []byte{0}, []byte{' '})))
		}
	}
	return out
}

// checkP11 checks p11's result, run with n calls: figures for TEP and
// the references, a row for each tpm2-pkcs11 system, the memory figures.
func checkP11(t *testing.T, res *bench.P11Result, n int) {
	t.Helper()
	if res.N != n {
		t.Errorf("n = %d, want %d", res.N, n)
	}
	rows := map[string]bench.P11Row{}
	for _, r := range res.Rows {
		rows[r.System+" "+r.Workload] = r
	}
	works := []string{"C_GenerateRandom(32)", "C_GetSessionInfo"}
	for _, sys := range []string{bench.SystemSoftHSM, bench.SystemP11Kit, bench.SystemTEP} {
		for _, w := range works {
			r, ok := rows[sys+" "+w]
			if !ok {
				t.Errorf("no row for %s %s; rows: %+v", sys, w, res.Rows)
				continue
			}
			if r.Err != "" || r.Calls != n || r.MedianNs <= 0 || r.P99Ns < r.MedianNs || r.OpsPerS <= 0 {
				t.Errorf("%s %s: bad measurement %+v", sys, w, r)
			}
		}
	}
	// The tpm2-pkcs11 systems, through tpm2-abrmd or not: a row for each
	// workload, with figures and TEP's ratio, or with why not; or one row
	// saying why the system could not be set up.
	for _, names := range [][]string{
		{bench.SystemTPM2PKCS11, bench.SystemTPM2PKCS11Direct},
		{bench.SystemP11KitTPM2, bench.SystemP11KitTPM2Direct},
	} {
		found := false
		for _, sys := range names {
			if r, ok := rows[sys+" "]; ok {
				found = true
				if r.Err == "" {
					t.Errorf("%s: a row with no workload and no error", sys)
				}
			}
			for _, w := range works {
				r, ok := rows[sys+" "+w]
				if !ok {
					continue
				}
				found = true
				if r.Err == "" && (r.Calls != n || r.MedianNs <= 0 || r.TEPRatio <= 0) {
					t.Errorf("%s %s: bad measurement %+v", sys, w, r)
				}
			}
		}
		if !found {
			t.Errorf("no row for %s; rows: %+v", names[0], res.Rows)
		}
	}
	rss := map[string]bench.P11RSS{}
	for _, m := range res.RSS {
		rss[m.What] = m
	}
	for _, what := range []string{"tepd, idle, 6 ports", "added to a host by libtep_interface.so", "added to a host by libsofthsm2.so", "added to a host by p11-kit-client.so", "p11-kit remote + SoftHSMv2, idle"} {
		if m := rss[what]; m.KiB <= 0 || m.Err != "" {
			t.Errorf("memory %q = %+v, want a positive figure", what, m)
		}
	}
}

// checkP11Table checks p11's table of res.
func checkP11Table(t *testing.T, res *bench.P11Result) {
	t.Helper()
	var b bytes.Buffer
	if err := p11Table(&b, res); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"system", "TEP ÷ this", bench.SystemTEP, bench.SystemSoftHSM, bench.SystemP11Kit,
		bench.SystemTPM2PKCS11, bench.SystemP11KitTPM2,
		"C_GenerateRandom(32)", "C_GetSessionInfo", "tepd, idle, 6 ports", "added to a host by libsofthsm2.so"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
