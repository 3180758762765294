package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"tep.dev/tep/bench"
)

func runCrypto(args []string, stdout, stderr io.Writer) error {
	fs, asJSON := newFlags("crypto", stderr)
	scale := fs.Float64("scale", 1, "multiply the operations per workload (at least one each)")
	build := buildFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *scale <= 0 {
		return fmt.Errorf("-scale %v: want a positive factor", *scale)
	}
	return measure(*asJSON, stdout, func(dir string) (*bench.CryptoResult, error) {
		return bench.Crypto(bench.CryptoConfig{Dir: dir, Build: *build, Scale: *scale})
	}, cryptoTable)
}

func cryptoTable(w io.Writer, res *bench.CryptoResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "workload\tsystem\tcalls\tmedian\tp99\tops/s\tMiB/s\t×raw TPM\t×SoftHSM\t×tpm2-pkcs11\t×p11kit\t×p11kit-tpm2\terror")
	ratio := func(v float64) string {
		if v <= 0 {
			return ""
		}
		return fmt.Sprintf("%.2f", v)
	}
	for _, r := range res.Rows {
		if r.Err != "" {
			fmt.Fprintf(tw, "%s\t%s\t%d\t\t\t\t\t\t\t\t\t\t%s\n", orDash(r.Workload), r.System, r.Calls, r.Err)
			continue
		}
		mibps := ""
		if r.MiBps > 0 {
			mibps = fmt.Sprintf("%.2f", r.MiBps)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%v\t%v\t%.1f\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Workload, r.System, r.Calls,
			round(time.Duration(r.MedianNs)), round(time.Duration(r.P99Ns)), r.OpsPerS, mibps,
			ratio(r.VsRaw), ratio(r.VsSoftHSM), ratio(r.VsTPM2PKCS11), ratio(r.VsP11Kit), ratio(r.VsP11KitTPM2))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n×PEER, in %s's rows: its median time over PEER's, for MiB/s too; below 1, TEP is faster.\n", bench.SystemTEPSWTPM)
	fmt.Fprintf(w, "PEERs: raw TPM = %s, SoftHSM = %s, tpm2-pkcs11 = %s[-direct], p11kit = %s, p11kit-tpm2 = %s[-direct].\n",
		bench.SystemRawTPM, bench.SystemSoftHSM, bench.SystemTPM2PKCS11, bench.SystemP11Kit, bench.SystemP11KitTPM2)
	return printNotes(w, res.Notes)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
