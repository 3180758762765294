// Command tep-bench measures TEP side by side with its limits and peers.
//
//	tep-bench link [-scale F] [-json]
//
// link: request/reply echoes over the framed link against a raw echo on a
// pty pair, for 32 B, 4 KiB, 64 KiB and 1 MiB payloads.
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
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "tep-bench:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: tep-bench link [-scale F] [-json]")
	}
	switch args[0] {
	case "link":
		return runLink(args[1:], stdout, stderr)
	}
	return fmt.Errorf("unknown workload %q (want: link)", args[0])
}

func runLink(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("link", flag.ContinueOnError)
	fs.SetOutput(stderr)
	scale := fs.Float64("scale", 1, "multiply the iteration counts")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "tep-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	res, err := bench.Link(dir, bench.LinkSizes, *scale)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "payload\traw median\traw p99\traw MiB/s\tTEP median\tTEP p99\tTEP MiB/s\tthroughput ×raw\tlatency ×raw\t")
	for _, r := range res {
		fmt.Fprintf(tw, "%s\t%v\t%v\t%.1f\t%v\t%v\t%.1f\t%.2f\t%.2f\t\n", size(r.Size),
			round(r.Raw.Median()), round(r.Raw.P99()), r.RawMiBps,
			round(r.Framed.Median()), round(r.Framed.P99()), r.FramedMiBps,
			r.Throughput, r.Latency)
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
