package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"tep.dev/tep/bench"
)

func runW7(args []string, stdout, stderr io.Writer) error {
	fs, asJSON := newFlags("w7", stderr)
	build := buildFlag(fs)
	ports := fs.Int("ports", 6, "tepd ports to sign on (1 to 6)")
	procs := fs.Int("procs", 4, "processes per port")
	duration := fs.Duration("duration", 10*time.Second, "how long to sign, through TEP and then on the raw TPM")
	mech := fs.String("mech", "ecdsa", "ecdsa (CKM_ECDSA, 32 B, P-256) or rsa (CKM_SHA256_RSA_PKCS, 64 B, RSA-2048)")
	shared := fs.Bool("shared-cpu", false, "run both swtpms at the clients' priority, not as a TPM chip (bench.ChipNice)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case *ports < 1 || *ports > 6:
		return fmt.Errorf("-ports %d: want 1 to 6", *ports)
	case *procs < 1:
		return fmt.Errorf("-procs %d: want at least 1", *procs)
	case *duration <= 0:
		return fmt.Errorf("-duration %v: want a positive duration", *duration)
	case *mech != "ecdsa" && *mech != "rsa":
		return fmt.Errorf("-mech %q: want ecdsa or rsa", *mech)
	}
	return measure(*asJSON, stdout, func(dir string) (*bench.W7Result, error) {
		return bench.W7(bench.W7Config{Dir: dir, Build: *build, Ports: *ports, Procs: *procs, Duration: *duration, Mech: *mech, SharedCPU: *shared})
	}, w7Table)
}

func w7Table(w io.Writer, res *bench.W7Result) error {
	fmt.Fprintf(w, "%s: %d ports × %d processes, %v\n\n", res.Workload, res.Ports, res.ProcsPerPort,
		time.Duration(res.DurationS*float64(time.Second)))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	raw := fmt.Sprintf("%.1f", res.RawOpsPerS)
	ratio := fmt.Sprintf("%.2f", res.VsRaw)
	if res.RawErr != "" {
		raw, ratio = res.RawErr, "-"
	}
	rows := [][3]string{
		{"aggregate ops/s", fmt.Sprintf("%.1f (%d signatures in %.2f s)", res.OpsPerS, res.Calls, res.WallS), ""},
		{"raw TPM, one stream, ops/s", raw, ""},
		{"aggregate ÷ raw", ratio, fmt.Sprintf("≥ %.1f", bench.TargetVsRaw)},
		{"errors", errorsText(res.Errors, res.FirstError), "0"},
		{"lowest port ÷ mean port", fmt.Sprintf("%.2f", res.LowestPortShare), fmt.Sprintf("≥ %.1f", bench.TargetPortShare)},
		{"process ops/s, min – max", fmt.Sprintf("%.1f – %.1f", res.ProcMinOpsPerS, res.ProcMaxOpsPerS), ""},
		{"latency median, p99", fmt.Sprintf("%v, %v", round(time.Duration(res.MedianNs)), round(time.Duration(res.P99Ns))), ""},
		{"swtpm nice value (both)", niceText(res), ""},
		{"tepd VmRSS idle", mib(res.RSSIdleKiB), "≤ " + mib(bench.TargetRSSIdleKiB)},
		{"tepd VmRSS max under load", mib(res.RSSMaxKiB), "≤ " + mib(bench.TargetRSSLoadKiB)},
	}
	fmt.Fprintln(tw, "figure\tvalue\ttarget")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r[0], r[1], r[2])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "port\tprocesses\tsignatures\tops/s\t")
	for _, p := range res.PerPort {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t\n", p.Port, p.Procs, p.Calls, p.OpsPerS)
	}
	return tw.Flush()
}

// niceText is the swtpms' nice value, or why it could not be set.
func niceText(res *bench.W7Result) string {
	if res.SWTPMNiceErr != "" {
		return "0: " + res.SWTPMNiceErr
	}
	return fmt.Sprint(res.SWTPMNice)
}

// errorsText is a count of errors with the first one's text.
func errorsText(n int, first string) string {
	if n == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (first: %s)", n, first)
}

// mib formats KiB as MiB.
func mib(kib int64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }
