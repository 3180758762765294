package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"tep.dev/tep/bench"
)

// TestFleetTable: the fleet table ends with each target, its verdict,
// the CPU shares behind it and Keylime's figure beside one replica's.
func TestFleetTable(t *testing.T) {
	step := func(fleet int, sustained, superseded bool) bench.FleetStep {
		st := bench.FleetStep{Fleet: fleet, Devices: fleet / 30, Sustained: sustained, Superseded: superseded,
			VerifierShare: 0.2, DatabaseShare: 0.3, GeneratorShare: 0.05, MachineShare: 0.6,
			CPUPerAttestation: 7 * time.Millisecond, CPUBound: 17000, DBSessions: 0.05, DBCommits: 5.3}
		st.Rate, st.Attested, st.Trusted, st.P99 = float64(fleet)/60, 100, 100, 250*time.Millisecond
		return st
	}
	r := &bench.FleetResult{Scale: 30, Duration: 20 * time.Second, Warmup: 10 * time.Second, Resolution: 500, Retries: 1, Cores: 2,
		Setups: []bench.FleetSetup{
			{Name: "postgres", Replicas: 1, Largest: 6000, Steps: []bench.FleetStep{step(6000, true, false), step(8000, false, true), step(8000, false, false)}},
			{Name: "postgres-2", Replicas: 2, Largest: 12000, Steps: []bench.FleetStep{step(12000, true, false), step(16000, false, false)}},
		}}
	r.Targets = []bench.FleetTarget{
		{Name: "one replica (postgres)", Goal: "at least 2000", Measured: true, Met: true, Figure: 6000, Step: &r.Setups[0].Steps[0], KeylimeDevices: 12, KeylimeRate: 0.4},
		{Name: "two replicas", Goal: "at least 1.7×", Measured: true, Figure: 2, Noisy: true, Step: &r.Setups[1].Steps[0], Base: &r.Setups[0].Steps[0], CPUCeiling: 1.5, Note: "not dependable: re-run"},
		{Name: "replica SIGKILL soak", Goal: "no loss", Note: "TEP_SOAK=5m"},
	}
	var b bytes.Buffer
	if err := fleetTable(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"false, tried again", "100/100",
		"- one replica (postgres) (at least 2000): met, 6000 devices/min",
		"12.0× in devices; 0.40× in attestations a second",
		"verifier 20%, PostgreSQL 30%, generator 5%, other processes 5%",
		"0.05 sessions opened and 5.3 transactions committed",
		"the cores alone could carry about 17000 devices/min",
		"- two replicas (at least 1.7×): not dependable (a noisy machine), 2.00× (12000 / 6000 devices/min)",
		"CPU ceiling for a second replica on these cores: 1.50×",
		"- replica SIGKILL soak (no loss): not measured",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("fleet table lacks %q:\n%s", want, out)
		}
	}
}
