package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"tep.dev/tep/bench"
)

func runFleet(args []string, stdout, stderr io.Writer) error {
	fs, asJSON := newFlags("fleet", stderr)
	build := buildFlag(fs)
	steps := fs.String("steps", "2000,4000,6000,8000,10000,12000,16000", "fleet sizes climbed, in devices attesting once a minute, comma-separated; then a bisection between the last sustained and the first failed")
	resolution := fs.Int("resolution", 500, "end the bisection when the last sustained and the first failed fleet are this close, in devices a minute")
	scale := fs.Int("scale", 30, "run N/scale devices attesting every minute/scale (the same rate)")
	duration := fs.Duration("duration", 20*time.Second, "how long each step is measured")
	warmup := fs.Duration("warmup", 10*time.Second, "how long each step pushes on schedule before it is measured (0 for the default, negative for none)")
	retries := fs.Int("retries", 1, "how many times a step not sustained is tried again before its size counts as failed (negative for none)")
	nice := fs.Int("nice", 0, "nice value of the replicas, PostgreSQL and the generator (e.g. -10 on a machine shared with other work; lowering needs root)")
	procs := fs.Int("replica-procs", 0, "GOMAXPROCS of each tep-verifier serve replica (0: Go's default, every core)")
	setups := fs.String("setups", "sqlite,postgres,postgres-2", "set-ups to run: sqlite, postgres, postgres-2 (two replicas), nats and nats-postgres (one replica pulling its devices over NATS, on SQLite or PostgreSQL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg := bench.FleetConfig{Build: *build, Scale: *scale, Duration: *duration, Warmup: *warmup, Resolution: *resolution, Retries: *retries, Nice: *nice,
		ReplicaProcs: *procs, Setups: strings.Split(*setups, ","), Progress: func(s string) { fmt.Fprintln(stderr, s) }}
	for _, s := range strings.Split(*steps, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return fmt.Errorf("-steps: %q is not a fleet size", s)
		}
		cfg.Steps = append(cfg.Steps, n)
	}
	return measure(*asJSON, stdout, func(dir string) (*bench.FleetResult, error) {
		return bench.Fleet(dir, cfg)
	}, fleetTable)
}

func fleetTable(w io.Writer, r *bench.FleetResult) error {
	fmt.Fprintf(w, "fleet: N devices attesting once a minute, run as N/%d devices every %v; each step %v of warm-up, then %v measured; "+
		"bisected to %d devices/min; a failed step tried %d more time(s); at nice %d; on %d cores; flavors and a runtime policy of %d files imported from a golden host\n",
		r.Scale, time.Minute/time.Duration(r.Scale), r.Warmup, r.Duration, r.Resolution, r.Retries, r.Nice, r.Cores, r.IMAEntries)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "set-up\tN/min\tdevices\tattested/s\ttrusted\tfailed\tmissed\tp50\tp95\tp99\tmax\tverifier CPU\tPostgreSQL CPU\tgenerator CPU\tmachine CPU\tsustained\t")
	for _, s := range r.Setups {
		for _, st := range s.Steps {
			sustained := fmt.Sprint(st.Sustained)
			if st.Superseded {
				sustained = "false, tried again"
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%d/%d\t%d\t%d\t%v\t%v\t%v\t%v\t%.0f%%\t%.0f%%\t%.0f%%\t%.0f%%\t%s\t\n", s.Name, st.Fleet, st.Devices, st.Rate,
				st.Trusted, st.Attested, st.Failed, st.Missed, round(st.P50), round(st.P95), round(st.P99), round(st.Max),
				100*st.VerifierShare, 100*st.DatabaseShare, 100*st.GeneratorShare, 100*st.MachineShare, sustained)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "CPU shares are of all the cores over the measured part of a step; machine CPU is every process's, other helpers' included.")
	natsLines(w, r)
	for _, s := range r.Setups {
		fmt.Fprintf(w, "%s (%d replica(s)): largest fleet sustained with p99 < 1 s: %d devices/min %s\n", s.Name, s.Replicas, s.Largest, s.Err)
	}
	fmt.Fprintln(w, "targets:")
	for _, t := range r.Targets {
		fleetTargetLine(w, t)
	}
	return nil
}

// fleetTargetLine prints one target: its figure, the p99 and CPU shares
// of the step it rests on, and Keylime's figure beside it.
func fleetTargetLine(w io.Writer, t bench.FleetTarget) {
	verdict := "missed"
	switch {
	case !t.Measured:
		verdict = "not measured"
	case t.Noisy && t.Base != nil:
		verdict = "not dependable (a noisy machine)"
	case t.Met:
		verdict = "met"
	}
	fmt.Fprintf(w, "- %s (%s): %s", t.Name, t.Goal, verdict)
	if t.Measured {
		if t.Base != nil {
			fmt.Fprintf(w, ", %.2f× (%d / %d devices/min)", t.Figure, t.Step.Fleet, t.Base.Fleet)
		} else {
			fmt.Fprintf(w, ", %.0f devices/min", t.Figure)
		}
	}
	fmt.Fprintln(w)
	for _, st := range []*bench.FleetStep{t.Step, t.Base} {
		if st != nil {
			fmt.Fprintf(w, "    at %d devices/min: %.1f attested/s, p99 %v; CPU of the cores: verifier %.0f%%, PostgreSQL %.0f%%, generator %.0f%%, other processes %.0f%%\n",
				st.Fleet, st.Rate, round(st.P99), 100*st.VerifierShare, 100*st.DatabaseShare, 100*st.GeneratorShare, 100*st.OtherShare())
			if st.CPUPerAttestation > 0 {
				fmt.Fprintf(w, "    %v of CPU an attestation (verifier, PostgreSQL, generator): the cores alone could carry about %d devices/min\n",
					round(st.CPUPerAttestation), st.CPUBound)
			}
			if st.DBCommits > 0 {
				fmt.Fprintf(w, "    PostgreSQL: %.2f sessions opened and %.1f transactions committed an attestation\n", st.DBSessions, st.DBCommits)
			}
		}
	}
	if t.KeylimeDevices > 0 {
		fmt.Fprintf(w, "    beside Keylime's ~500 agents a verifier: %.1f× in devices; %.2f× in attestations a second (its 500 agents quote every 2 s: 250/s)\n",
			t.KeylimeDevices, t.KeylimeRate)
	}
	if t.CPUCeiling > 0 {
		fmt.Fprintf(w, "    CPU ceiling for a second replica on these cores: %.2f×\n", t.CPUCeiling)
	}
	if t.Note != "" {
		fmt.Fprintf(w, "    %s\n", t.Note)
	}
}

// natsLines adds what only NATS steps have: their p50-p99 are the
// verifier's histogram's, and the schedule's lateness and the
// nats-server's CPU are beside them.
func natsLines(w io.Writer, r *bench.FleetResult) {
	for _, s := range r.Setups {
		for _, st := range s.Steps {
			if st.Mode != "nats" {
				continue
			}
			fmt.Fprintf(w, "%s %d/min: the verifier pulled over NATS: %d quotes answered, %d reports stored (%d trusted), %d devices late (two intervals or more without a report), longest gap %v, nats-server %.0f%% of the CPU; latencies from tep_verification_seconds\n",
				s.Name, st.Fleet, st.Quotes, st.Attested, st.Trusted, st.Late, round(st.MaxGap), 100*st.NATSShare)
		}
	}
}
