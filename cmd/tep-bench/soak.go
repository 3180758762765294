package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"tep.dev/tep/bench"
)

func runSoak(args []string, stdout, stderr io.Writer) error {
	fs, asJSON := newFlags("soak", stderr)
	build := buildFlag(fs)
	duration := fs.Duration("duration", 10*time.Minute, "how long the workers sign")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *duration <= 0 {
		return fmt.Errorf("-duration %v: want a positive duration", *duration)
	}
	return measure(*asJSON, stdout, func(dir string) (*bench.SoakResult, error) {
		return bench.Soak(bench.SoakConfig{Dir: dir, Build: *build, Duration: *duration})
	}, soakTable)
}

func soakTable(w io.Writer, res *bench.SoakResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	lost := fmt.Sprint(len(res.Lost))
	if res.CheckErr != "" {
		lost = "not checked: " + res.CheckErr
	}
	tpm := fmt.Sprintf("%d transient, %d sessions", res.TPMTransients, res.TPMSessions)
	if res.TPMErr != "" {
		tpm = res.TPMErr
	}
	rows := [][3]string{
		{"duration", fmt.Sprint(time.Duration(res.DurationS * float64(time.Second))), ""},
		{"workers at a time", fmt.Sprint(res.Workers), ""},
		{"signatures", fmt.Sprintf("%d (%.1f/s)", res.Signatures, float64(res.Signatures)/res.DurationS), ""},
		{"workers killed (SIGKILL) and replaced", fmt.Sprint(res.Kills), ""},
		{"errors", fmt.Sprint(res.Errors), "0"},
		{"survivors that failed to sign once more or finalise", fmt.Sprintf("%d of %d", len(res.FinalFailures), res.Survivors), "0"},
		{"objects lost", lost, "0"},
		{"tepd VmRSS baseline, final", mib(res.RSSBaselineKiB) + ", " + mib(res.RSSFinalKiB), ""},
		{"tepd VmRSS growth", fmt.Sprintf("%+.1f%%", 100*res.RSSGrowth), fmt.Sprintf("≤ %.0f%%", 100*bench.TargetRSSGrowth)},
		{"TPM handles left after tepd's SIGKILL", tpm, "1 transient, 0 sessions"},
	}
	fmt.Fprintln(tw, "figure\tvalue\ttarget")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r[0], r[1], r[2])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, e := range res.ErrorTexts {
		fmt.Fprintf(w, "error ×%d: %s\n", e.Count, e.Text)
	}
	for _, f := range res.FinalFailures {
		fmt.Fprintln(w, "final failure:", f)
	}
	if len(res.Lost) > 0 {
		fmt.Fprintln(w, "lost:", strings.Join(res.Lost, "; "))
	}
	return nil
}
