// Command tep-bench measures TEP side by side with its limits and peers.
//
//	tep-bench all [-build DIR] [-scale F] [-w7-duration D] [-json]
//	tep-bench link [-scale F] [-json]
//	tep-bench p11 [-n N] [-build DIR] [-json]
//	tep-bench crypto [-scale F] [-build DIR] [-json]
//	tep-bench w7 [-build DIR] [-ports N] [-procs N] [-duration D] [-mech ecdsa|rsa] [-json]
//	tep-bench soak [-build DIR] [-duration D] [-json]
//	tep-bench fleet [-build DIR] [-steps N,...] [-scale S] [-duration D] [-setups ...] [-json]
//
// all: link (32 B and 1 MiB), p11 (2000 calls, times F), crypto and w7
// (ecdsa, 6 ports × 4 processes, for D, default 10s), one after the
// other, each on fresh state, and then one table: a row per workload and
// memory figure with TEP's figure, each peer's with TEP's ratio to it,
// and the target with whether this run met it. -json prints the
// summary and the full result of each part. A part that fails leaves the
// others to run, and all then exits non-zero after printing.
//
// link: request/reply echoes over the framed link against a raw echo on a
// pty pair, for 32 B, 4 KiB, 64 KiB and 1 MiB payloads.
//
// p11: C_GenerateRandom and C_GetSessionInfo through TEP over a pty (tepd
// and libtep_interface.so from DIR, default build), SoftHSMv2 loaded
// directly, tpm2-pkcs11 loaded directly on swtpm through tpm2-abrmd, and
// p11-kit's RPC over a pty pair to SoftHSMv2 and to tpm2-pkcs11, each
// module in a host process of its own (this program run again); then the
// resident memory of the servers and what each module adds to its host.
// A system that cannot be set up is a row with its error. It needs socat,
// p11-kit, softhsm2, swtpm, tpm2-abrmd, dbus-daemon and tpm2-pkcs11's
// tools (scripts/deps.sh installs them); without a working tpm2-abrmd,
// tpm2-pkcs11 reaches swtpm directly and its systems' names end in
// "-direct".
//
// crypto: RSA-2048 and P-256 signatures and verifications, AES-256-CBC of
// 1 MiB in one part and in 64 KiB parts, SHA-256 of 1 MiB (into a buffer
// sized beforehand, and again after a length query with a NULL buffer, as
// miekg/pkcs11 asks) and RSA-2048 key generation, through TEP over a pty
// with tepd on swtpm and on its embedded simulator, in SoftHSMv2 and
// tpm2-pkcs11 (on swtpm) loaded directly, through p11-kit's RPC over a
// pty pair to those two, and with the TPM package on swtpm directly (the
// TPM's own limit); with TEP-on-swtpm's ratio (time over time) to each.
// It needs what p11 does.
//
// w7: N processes on each of M ports of one tepd on swtpm (default 4 on
// 6) sign with one token key for D (default 10s), all at once; then the
// raw TPM (as in crypto) signs on an swtpm of its own, alone, for as
// long. It reports the aggregate rate and its ratio to the raw TPM's,
// errors, the rate of each port and the spread between processes, the
// latency median and p99, and tepd's memory idle and under load, each
// beside its target.
//
// soak: the w7 set-up (ecdsa, 6 ports × 4 processes) for D (default 10m)
// with tepd's lease at 5 s, a random worker killed with SIGKILL every 2 to
// 5 s and replaced; then checks that the survivors still sign, that the
// token's objects are all there, tepd's memory growth, and, after tepd is
// killed in turn, the handles it left on the TPM. Needs swtpm.
//
// fleet: tep-verifier serve (from DIR) on SQLite, on PostgreSQL
// (internal/postgres) and as two replicas on one PostgreSQL, each
// driven by the load generator (attest/loadgen, in this process) with
// fleets of N devices attesting once a minute, 5,000-entry IMA logs
// growing by 50 a report; run as N/S devices every minute/S (the same
// rate, default S 30), for D each (default 20 s), N stepping up until a
// step is not sustained (a failure, a skipped push, under 90% of the
// rate, or p99 of the evidence round trip at 1 s or more). It reports
// each step's latencies and the CPU share of the verifier and of the
// generator, the largest fleet sustained per set-up, and two replicas'
// ratio to one.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"tep.dev/tep/bench"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "tep-bench:", err)
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "all":
		return runAll(args[1:], stdout, stderr)
	case "link":
		return runLink(args[1:], stdout, stderr)
	case "p11":
		return runP11(args[1:], stdout, stderr)
	case "crypto":
		return runCrypto(args[1:], stdout, stderr)
	case "w7":
		return runW7(args[1:], stdout, stderr)
	case "soak":
		return runSoak(args[1:], stdout, stderr)
	case "fleet":
		return runFleet(args[1:], stdout, stderr)
	case bench.HostCommand:
		// Hidden: p11 and crypto run each module in a process of its own.
		if len(args) != 2 {
			return fmt.Errorf("usage: tep-bench %s MODULE", bench.HostCommand)
		}
		return bench.P11Host(args[1], stdin, stdout)
	}
	return fmt.Errorf("unknown workload %q (want: all, link, p11, crypto, w7, soak or fleet)", args[0])
}

const usage = `usage:
  tep-bench all [-build DIR] [-scale F] [-w7-duration D] [-json]
  tep-bench link [-scale F] [-json]
  tep-bench p11 [-n N] [-build DIR] [-json]
  tep-bench crypto [-scale F] [-build DIR] [-json]
  tep-bench w7 [-build DIR] [-ports N] [-procs N] [-duration D] [-mech ecdsa|rsa] [-json]
  tep-bench soak [-build DIR] [-duration D] [-json]
  tep-bench fleet [-build DIR] [-steps N,...] [-scale S] [-duration D] [-setups sqlite,postgres,postgres-2] [-json]`

func runLink(args []string, stdout, stderr io.Writer) error {
	fs, asJSON := newFlags("link", stderr)
	scale := fs.Float64("scale", 1, "multiply the iteration counts")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return measure(*asJSON, stdout, func(dir string) (*[]bench.LinkResult, error) {
		res, err := bench.Link(dir, bench.LinkSizes, *scale)
		if err != nil {
			return nil, err
		}
		return &res, nil
	}, linkTable)
}

func linkTable(w io.Writer, res *[]bench.LinkResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "payload\traw median\traw p99\traw MiB/s\tTEP median\tTEP p99\tTEP MiB/s\tthroughput ×raw\tlatency ×raw\tone way median\tone way MiB/s\t")
	for _, r := range *res {
		fmt.Fprintf(tw, "%s\t%v\t%v\t%.1f\t%v\t%v\t%.1f\t%.2f\t%.2f\t%v\t%.1f\t\n", size(r.Size),
			round(r.Raw.Median()), round(r.Raw.P99()), r.RawMiBps,
			round(r.Framed.Median()), round(r.Framed.P99()), r.FramedMiBps,
			r.Throughput, r.Latency, round(r.OneWay.Median()), r.OneWayMiBps)
	}
	return tw.Flush()
}

func size(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

func round(d time.Duration) time.Duration {
	switch {
	case d > time.Millisecond:
		return d.Round(10 * time.Microsecond)
	case d > 10*time.Microsecond:
		return d.Round(100 * time.Nanosecond)
	}
	return d
}

// measure runs a workload in a fresh temporary directory and prints what
// it returns as indented JSON or as its table. A run in which some systems
// failed still prints its rows (they say why) and then returns the error.
func measure[R any](asJSON bool, stdout io.Writer, do func(dir string) (*R, error), table func(io.Writer, *R) error) error {
	res, err := inTempDir(do)
	if res == nil {
		return err
	}
	var perr error
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		perr = enc.Encode(res)
	} else {
		perr = table(stdout, res)
	}
	if perr != nil {
		return perr
	}
	return err
}

// inTempDir runs do in a fresh temporary directory, removed after it.
func inTempDir[R any](do func(dir string) (R, error)) (R, error) {
	dir, err := os.MkdirTemp("", "tep-bench-")
	if err != nil {
		var zero R
		return zero, err
	}
	defer os.RemoveAll(dir)
	return do(dir)
}

// newFlags returns the flag set of subcommand name, which reports its
// errors to stderr, and the -json flag every subcommand has.
func newFlags(name string, stderr io.Writer) (*flag.FlagSet, *bool) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs, fs.Bool("json", false, "print JSON instead of a table")
}

// buildFlag adds -build, the directory of the binaries under test.
func buildFlag(fs *flag.FlagSet) *string {
	return fs.String("build", "build", "directory with tepd and libtep_interface.so")
}
