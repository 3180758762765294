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
	steps := fs.String("steps", "2000,4000,6000,8000,10000,12000,16000", "fleet sizes tried, in devices attesting once a minute, comma-separated")
	scale := fs.Int("scale", 30, "run N/scale devices attesting every minute/scale (the same rate)")
	duration := fs.Duration("duration", 20*time.Second, "how long each step pushes")
	setups := fs.String("setups", "sqlite,postgres,postgres-2", "set-ups to run: sqlite, postgres, postgres-2 (two replicas), nats and nats-postgres (one replica pulling its devices over NATS, on SQLite or PostgreSQL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg := bench.FleetConfig{Build: *build, Scale: *scale, Duration: *duration, Setups: strings.Split(*setups, ","),
		Progress: func(s string) { fmt.Fprintln(stderr, s) }}
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
	fmt.Fprintf(w, "fleet: N devices attesting once a minute, run as N/%d devices every %v, %v a step, on %d cores\n",
		r.Scale, time.Minute/time.Duration(r.Scale), r.Duration, r.Cores)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "set-up\tN/min\tdevices\tattested/s\tfailed\tmissed\tp50\tp95\tp99\tmax\tverifier CPU\tPostgreSQL CPU\tgenerator CPU\tsustained\t")
	for _, s := range r.Setups {
		for _, st := range s.Steps {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%d\t%d\t%v\t%v\t%v\t%v\t%.0f%%\t%.0f%%\t%.0f%%\t%v\t\n", s.Name, st.Fleet, st.Devices, st.Rate,
				st.Failed, st.Missed, round(st.P50), round(st.P95), round(st.P99), round(st.Max),
				100*st.VerifierShare, 100*st.DatabaseShare, 100*st.GeneratorShare, st.Sustained)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	natsLines(w, r)
	for _, s := range r.Setups {
		fmt.Fprintf(w, "%s (%d replica(s)): largest fleet sustained with p99 < 1 s: %d devices/min %s\n", s.Name, s.Replicas, s.Largest, s.Err)
	}
	if r.Ratio > 0 {
		fmt.Fprintf(w, "two replicas on one PostgreSQL / one: %.2f×\n", r.Ratio)
	}
	return nil
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
