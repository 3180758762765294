package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"tep.dev/tep/bench"
)

func runP11(args []string, stdout, stderr io.Writer) error {
	fs, asJSON := newFlags("p11", stderr)
	n := fs.Int("n", 2000, "timed calls per system and workload")
	build := buildFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n <= 0 {
		return fmt.Errorf("-n %d: want a positive count", *n)
	}
	return measure(*asJSON, stdout, func(dir string) (*bench.P11Result, error) {
		return bench.P11(bench.P11Config{Dir: dir, Build: *build, N: *n})
	}, p11Table)
}

func p11Table(w io.Writer, res *bench.P11Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "system\tworkload\tcalls\tmedian\tp99\tops/s\tTEP ÷ this\terror")
	for _, r := range res.Rows {
		if r.Err != "" && r.Calls == 0 && r.Workload == "" {
			fmt.Fprintf(tw, "%s\t-\t\t\t\t\t\t%s\n", r.System, r.Err)
			continue
		}
		if r.Err != "" {
			fmt.Fprintf(tw, "%s\t%s\t%d\t\t\t\t\t%s\n", r.System, r.Workload, r.Calls, r.Err)
			continue
		}
		ratio := "-"
		if r.TEPRatio > 0 {
			ratio = fmt.Sprintf("%.2f", r.TEPRatio)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%v\t%v\t%.0f\t%s\t\n", r.System, r.Workload, r.Calls,
			round(time.Duration(r.MedianNs)), round(time.Duration(r.P99Ns)), r.OpsPerS, ratio)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "memory (VmRSS)\tKiB\thost before\thost after\terror")
	for _, m := range res.RSS {
		before, after := "", ""
		if m.AfterKiB > 0 {
			before, after = fmt.Sprint(m.BeforeKiB), fmt.Sprint(m.AfterKiB)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", m.What, m.KiB, before, after, m.Err)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return printNotes(w, res.Notes)
}

// printNotes prints a run's notes after its tables.
func printNotes(w io.Writer, notes []string) error {
	for _, n := range notes {
		if _, err := fmt.Fprintln(w, "note:", n); err != nil {
			return err
		}
	}
	return nil
}
