package bench

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"tep.dev/tep/attest/api"
	"tep.dev/tep/attest/flavor"
)

// TestFleetNoVerifier: a build directory without tep-verifier fails
// the set-up, and Fleet says which.
func TestFleetNoVerifier(t *testing.T) {
	res, err := Fleet(t.TempDir(), FleetConfig{Build: t.TempDir(), Setups: []string{"sqlite"}, Steps: []int{20}})
	if err == nil || !strings.Contains(err.Error(), "fleet sqlite") || !strings.Contains(err.Error(), "token create") {
		t.Fatalf("Fleet without tep-verifier = %v, want a sqlite set-up error from token create", err)
	}
	if len(res.Setups) != 1 || res.Setups[0].Largest != 0 || len(res.Setups[0].Steps) != 0 {
		t.Errorf("Fleet without tep-verifier = %+v, want one set-up with no steps", res.Setups)
	}
	if len(res.Targets) != 2 || res.Targets[0].Measured || !strings.Contains(res.Targets[0].Note, "token create") {
		t.Errorf("targets without tep-verifier = %+v, want one replica's unmeasured with the set-up's error, and the soak's", res.Targets)
	}
}

func TestFleetDefaults(t *testing.T) {
	c := FleetConfig{}.withDefaults()
	if !reflect.DeepEqual(c.Steps, []int{2000, 4000, 6000, 8000, 10000, 12000, 16000}) || c.Scale != 30 ||
		c.Duration != 20*time.Second || c.Warmup != 10*time.Second || c.Resolution != 500 || c.Retries != 1 ||
		c.IMAEntries != 5000 || c.IMAStep != 50 || len(c.Setups) != 3 || c.Progress == nil {
		t.Errorf("defaults = %+v", c)
	}
	c = FleetConfig{Warmup: -1, Retries: -1, Scale: 60, Resolution: 10}.withDefaults()
	if c.Warmup != 0 || c.Retries != 0 || c.Resolution != 60 {
		t.Errorf("negative warm-up and retries, a resolution under the scale = %v, %d, %d; want none, none and the scale, 60", c.Warmup, c.Retries, c.Resolution)
	}
	// The golden host's log covers the first report, the warm-up's
	// pushes and the measured ones (10 s + 20 s at 2 s: 15), and two more.
	if n := goldenEntries(FleetConfig{}.withDefaults()); n != 5000+50*17 {
		t.Errorf("goldenEntries(defaults) = %d, want %d", n, 5000+50*17)
	}
}

func TestNextFleet(t *testing.T) {
	ladder := []int{2000, 4000, 8000, 16000}
	ok := func(n int) stepOutcome { return stepOutcome{n, true} }
	bad := func(n int) stepOutcome { return stepOutcome{n, false} }
	for _, tc := range []struct {
		name  string
		tried []stepOutcome
		want  int // 0: done
	}{
		{"first", nil, 2000},
		{"climbing", []stepOutcome{ok(2000), ok(4000)}, 8000},
		{"ladder done", []stepOutcome{ok(2000), ok(4000), ok(8000), ok(16000)}, 0},
		{"bisect", []stepOutcome{ok(2000), ok(4000), ok(8000), bad(16000)}, 12000},
		{"bisect below", []stepOutcome{ok(8000), bad(16000), bad(12000)}, 9990},
		{"bisect above", []stepOutcome{ok(8000), bad(16000), ok(12000)}, 13980},
		{"to the quantum", []stepOutcome{ok(8000), bad(9000)}, 8490},
		{"within resolution", []stepOutcome{ok(8000), bad(8500)}, 0},
		{"first fails", []stepOutcome{bad(2000)}, 990},
		{"nothing sustained", []stepOutcome{bad(2000), bad(990), bad(480)}, 0},
	} {
		got, more := nextFleet(ladder, tc.tried, 500, 30)
		if got != tc.want || more != (tc.want != 0) {
			t.Errorf("%s: nextFleet = %d, %v; want %d", tc.name, got, more, tc.want)
		}
	}
	if lo, hi, top := largestSustained([]stepOutcome{ok(8000), bad(16000), ok(12000), bad(14000)}); lo != 12000 || hi != 14000 || top != 16000 {
		t.Errorf("largestSustained = %d, %d, %d; want 12000, 14000, 16000", lo, hi, top)
	}
}

func TestMachineCPU(t *testing.T) {
	busy, total := machineCPU()
	if total <= 0 || busy < 0 || busy > total {
		t.Errorf("machineCPU = %v busy of %v", busy, total)
	}
}

// fleetStep is a sustained step for the targets' tests.
func fleetStep(fleet int, rate float64, verifier, db, gen, machine float64) FleetStep {
	st := FleetStep{Fleet: fleet, Sustained: true, VerifierShare: verifier, DatabaseShare: db, GeneratorShare: gen, MachineShare: machine}
	st.Rate, st.P99 = rate, 100*time.Millisecond
	return st
}

func TestFleetTargets(t *testing.T) {
	one := FleetSetup{Name: "postgres", Replicas: 1, Steps: []FleetStep{
		fleetStep(8000, 133, 0.1, 0.1, 0.05, 0.3), fleetStep(12000, 200, 0.35, 0.35, 0.1, 0.9), {Fleet: 16000}}}
	two := FleetSetup{Name: "postgres-2", Replicas: 2, Steps: []FleetStep{fleetStep(14000, 233, 0.4, 0.4, 0.1, 0.95), {Fleet: 16000}}}
	ts := fleetTargets([]FleetSetup{one, two}, false)
	if len(ts) != 3 || ts[2].Measured || !strings.Contains(ts[2].Note, "TEP_SOAK=5m") {
		t.Fatalf("targets = %+v, want one replica's, the ratio and the soak's (not measured)", ts)
	}
	r1 := ts[0]
	if !r1.Measured || !r1.Met || r1.Noisy || r1.Figure != 12000 || r1.Step.Fleet != 12000 || r1.KeylimeDevices != 24 || r1.KeylimeRate != 0.8 {
		t.Errorf("one replica = %+v; want 12,000 met, 24× Keylime's devices and 0.8× its rate", r1)
	}
	r2 := ts[1]
	// At one replica's 12,000 the bench's processes used 80% and 10%
	// was idle: (0.8+0.1)/0.8 = 1.125× at most.
	if !r2.Measured || r2.Met || r2.Noisy || r2.Figure != 14000.0/12000 || r2.Base.Fleet != 12000 || r2.Step.Fleet != 14000 ||
		r2.CPUCeiling < 1.12 || r2.CPUCeiling > 1.13 || !strings.Contains(r2.Note, "cores bound it") {
		t.Errorf("two replicas = %+v; want 1.17× missed, a CPU ceiling of 1.125× and the cores named", r2)
	}
	// With the cores half idle, the note says the CPU was not short.
	base := &one.Steps[1]
	base.VerifierShare, base.DatabaseShare, base.MachineShare = 0.2, 0.2, 0.5
	if r := replicaRatioTarget(&one, &two, false); r.CPUCeiling != 2 || !strings.Contains(r.Note, "not for want of CPU") {
		t.Errorf("two replicas with idle cores = %+v", r)
	}
	two.Steps[0].Fleet = 24000
	if r := replicaRatioTarget(&one, &two, false); !r.Met || r.Figure != 2 || r.Note != "" {
		t.Errorf("two replicas at 2× = %+v, want met", r)
	}
	// Other work took 40% of the cores at one replica's step: the same
	// 2× is not dependable, and one replica's figure is a floor.
	base.MachineShare = 0.9
	if r := replicaRatioTarget(&one, &two, false); r.Met || !r.Noisy || r.Figure != 2 || !strings.Contains(r.Note, "not dependable") {
		t.Errorf("two replicas at 2× on a busy machine = %+v, want not met, noisy", r)
	}
	if r := oneReplicaTarget(&one); !r.Met || !r.Noisy || !strings.Contains(r.Note, "only be higher") {
		t.Errorf("one replica on a busy machine = %+v, want met, noisy, a floor", r)
	}
	// At a lower nice value the bench could have taken the 40% other
	// processes used as well: (0.5+0.1+0.4)/0.5.
	if r := replicaRatioTarget(&one, &two, true); r.CPUCeiling < 1.99 || r.CPUCeiling > 2.01 {
		t.Errorf("two replicas at nice -10 on a busy machine: ceiling %v, want 2", r.CPUCeiling)
	}
	// Ladders that were sustained to their top: one replica's limit is
	// unknown, so is the ratio; two replicas' is a floor.
	// (A try that failed and was tried again does not end the ladder.)
	topped := FleetSetup{Name: "postgres", Replicas: 1, Steps: []FleetStep{{Fleet: 6000, Superseded: true}, fleetStep(6000, 100, 0.3, 0.3, 0.1, 0.75)}}
	if r := replicaRatioTarget(&topped, &two, false); r.Measured || !strings.Contains(r.Note, "ratio, is unknown") {
		t.Errorf("two replicas over a one-replica ladder sustained to its top = %+v, want not measured", r)
	}
	if r := oneReplicaTarget(&topped); !r.Met || !strings.Contains(r.Note, "limit is higher") {
		t.Errorf("one replica sustained to the ladder's top = %+v, want met, its limit higher", r)
	}
	one.Steps[1].MachineShare = 0.8
	twoTopped := FleetSetup{Name: "postgres-2", Replicas: 2, Steps: []FleetStep{fleetStep(14000, 233, 0.4, 0.4, 0.1, 0.95)}}
	if r := replicaRatioTarget(&one, &twoTopped, false); !r.Measured || r.Met || !strings.Contains(r.Note, "at least this") {
		t.Errorf("two replicas sustained to the ladder's top = %+v, want measured, a floor", r)
	}
	if r := replicaRatioTarget(nil, &two, false); r.Measured || !strings.Contains(r.Note, "postgres set-up") {
		t.Errorf("two replicas alone = %+v, want a note asking for the postgres set-up", r)
	}
	failed := FleetSetup{Name: "sqlite", Replicas: 1, Steps: []FleetStep{{Fleet: 2000}}, Err: "boom"}
	if r := oneReplicaTarget(&failed); r.Measured || r.Met || !strings.Contains(r.Note, "boom") {
		t.Errorf("one replica with nothing sustained = %+v", r)
	}
}

// TestFleetTrust runs one tiny step on SQLite against a real
// tep-verifier serve holding the golden host's flavors: every report is
// trusted. Then, with the PLATFORM flavor deleted, the golden host's
// check and the step both fail and say why.
func TestFleetTrust(t *testing.T) {
	build := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", build, "tep.dev/tep/cmd/tep-verifier").CombinedOutput(); err != nil {
		t.Fatalf("building tep-verifier: %v\n%s", err, out)
	}
	cfg := FleetConfig{Build: build, Steps: []int{60}, Duration: 2 * time.Second, Warmup: -1, IMAEntries: 200, IMAStep: 5, Nice: 3}.withDefaults()
	dir := t.TempDir()
	v, err := startFleetVerifier(dir, "sqlite", 1, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer v.stop()
	if n, err := niceOf(v.reps[0].pid()); err != nil || n != 3 {
		t.Errorf("the replica's nice value = %d, %v; want 3 (FleetConfig.Nice)", n, err)
	}
	defer func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "verifier-0.log"))
			t.Logf("tep-verifier serve's log:\n%s", b)
		}
	}()
	st := v.step(60, cfg)
	if st.Err != "" || st.Devices != 2 || st.Attested == 0 || st.Trusted != st.Attested || !st.Sustained {
		t.Fatalf("step = %+v; want 2 devices, every report trusted, sustained", st)
	}
	if st.CPUPerAttestation <= 0 || st.CPUBound <= 0 || st.MachineShare <= 0 {
		t.Errorf("step = %+v; want its CPU per attestation, the fleet the cores could carry, the machine's share", st)
	}

	c, err := v.client(v.urls[0])
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var ps []api.Policy
	if err := c.Do(ctx, http.MethodGet, "/v1/flavors", nil, &ps); err != nil {
		t.Fatal(err)
	}
	parts := map[flavor.Part]string{}
	for _, p := range ps {
		var f flavor.Flavor
		if err := json.Unmarshal(p.Body, &f); err != nil {
			t.Fatal(err)
		}
		parts[f.Meta.Part] = p.ID
	}
	if len(parts) != 3 || parts[flavor.Platform] == "" || parts[flavor.OS] == "" || parts[flavor.IMA] == "" {
		t.Fatalf("stored flavors = %v, want PLATFORM, OS and IMA", parts)
	}
	if err := c.Do(ctx, http.MethodDelete, "/v1/flavors/"+parts[flavor.Platform], nil, nil); err != nil {
		t.Fatal(err)
	}
	// Each replica re-reads the flavors every few seconds.
	for end := time.Now().Add(30 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		err := v.checkGolden(ctx)
		if err != nil && strings.Contains(err.Error(), "FlavorMissing") {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("checkGolden without a PLATFORM flavor = %v, want FlavorMissing", err)
		}
	}
	s := FleetSetup{Name: "sqlite", Replicas: 1}
	v.climb(&s, cfg)
	if len(s.Steps) != 1 || s.Steps[0].Sustained || s.Largest != 0 ||
		!strings.Contains(s.Err, "untrusted") || !strings.Contains(s.Err, "FlavorMissing") {
		t.Errorf("climb without a PLATFORM flavor = %+v, want one step, not sustained, its untrusted reports' fault named", s)
	}
}

// TestFleetTemplate: the bench's template makes the three parts from a
// golden host, and one PCR rule per PCR and bank.
func TestFleetTemplate(t *testing.T) {
	tmpl := fleetTemplate()
	if len(tmpl.Parts) != 3 || len(tmpl.Parts[flavor.Platform].Rules) != 8 || len(tmpl.Parts[flavor.OS].Rules) != 2 ||
		!tmpl.Parts[flavor.IMA].RuntimePolicy {
		t.Errorf("fleetTemplate = %+v", tmpl)
	}
	if _, err := json.Marshal(tmpl); err != nil {
		t.Error(err)
	}
}

func TestProgressLine(t *testing.T) {
	st := fleetStep(2000, 33, 0.07, 0, 0.02, 1)
	st.Devices, st.Interval, st.Failed = 66, 2*time.Second, 3
	st.Errors = []string{"evidence of n2000-00001: context deadline exceeded"}
	line := progressLine("sqlite", &st)
	if strings.Contains(line, "sessions") || !strings.Contains(line, "3 failed") || !strings.Contains(line, "first error: evidence of n2000-00001") {
		t.Errorf("sqlite's line = %q, want no PostgreSQL counts, the failures and the first error", line)
	}
	st.DBSessions, st.DBCommits, st.Err = 0.25, 5.5, "3 of 9 reports untrusted"
	line = progressLine("postgres", &st)
	if !strings.Contains(line, "0.25 sessions, 5.5 commits") || !strings.Contains(line, ": 3 of 9 reports untrusted") || strings.Contains(line, "first error") {
		t.Errorf("postgres's line = %q, want its counts and the step's error", line)
	}
}

func TestRenice(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if err := renice(cmd.Process.Pid, 7); err != nil {
		t.Fatal(err)
	}
	if n, err := niceOf(cmd.Process.Pid); err != nil || n != 7 {
		t.Errorf("nice value after renice 7 = %d, %v", n, err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if err := renice(cmd.Process.Pid, 7); err == nil {
		t.Error("renice of a process that has ended succeeded")
	}
	if _, err := niceOf(cmd.Process.Pid); err == nil {
		t.Error("niceOf a process that has ended succeeded")
	}
}

// TestFleetNATSNoVerifier: the NATS set-up starts its nats-server
// before serve; when serve cannot start, the set-up fails and stops the
// nats-server it started.
func TestFleetNATSNoVerifier(t *testing.T) {
	res, err := Fleet(t.TempDir(), FleetConfig{Build: t.TempDir(), Setups: []string{"nats"}, Steps: []int{20}})
	if err == nil || !strings.Contains(err.Error(), "fleet nats") || !strings.Contains(err.Error(), "token create") {
		t.Fatalf("Fleet without tep-verifier = %v, want a nats set-up error from token create", err)
	}
	if len(res.Setups) != 1 || len(res.Setups[0].Steps) != 0 {
		t.Errorf("Fleet without tep-verifier = %+v, want one set-up with no steps", res.Setups)
	}
	if kids := childrenNamed(t, "nats-server"); len(kids) != 0 {
		t.Errorf("nats-server still running (pids %v) after the set-up failed", kids)
	}
}

// childrenNamed returns this process' children whose command is name.
func childrenNamed(t *testing.T, name string) []int {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // ended meanwhile
		}
		s := string(b)
		lp, rp := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if lp < 0 || rp < lp {
			continue
		}
		f := strings.Fields(s[rp+1:])
		if len(f) < 2 || s[lp+1:rp] != name || f[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		pid, _ := strconv.Atoi(strings.Fields(s)[0])
		pids = append(pids, pid)
	}
	return pids
}
