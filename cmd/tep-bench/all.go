package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"tep.dev/tep/bench"
)

// allLinkSizes are the payloads all measures over the link.
var allLinkSizes = []int{32, 1 << 20}

// The shape of all's W7: the issue's.
const (
	allW7Ports = 6
	allW7Procs = 4
	allW7Mech  = "ecdsa"
)

// allResult is what all prints with -json: the summary and every part's
// full result, with the error of each part that failed.
type allResult struct {
	Summary bench.Summary       `json:"summary"`
	Link    []bench.LinkResult  `json:"link"`
	P11     *bench.P11Result    `json:"p11"`
	Crypto  *bench.CryptoResult `json:"crypto"`
	W7      *bench.W7Result     `json:"w7"`
	// W7Shared is W7 with both swtpms at the clients' priority.
	W7Shared *bench.W7Result   `json:"w7_shared_cpu"`
	Errors   map[string]string `json:"errors,omitempty"`
}

func runAll(args []string, stdout, stderr io.Writer) error {
	fs, asJSON := newFlags("all", stderr)
	build := buildFlag(fs)
	scale := fs.Float64("scale", 1, "multiply the calls of link, p11 and crypto")
	w7Duration := fs.Duration("w7-duration", 10*time.Second, "how long W7 signs, through TEP and then on the raw TPM")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("all: unexpected arguments %q", fs.Args())
	case *scale <= 0:
		return fmt.Errorf("-scale %v: want a positive factor", *scale)
	case *w7Duration <= 0:
		return fmt.Errorf("-w7-duration %v: want a positive duration", *w7Duration)
	}
	res, err := allParts(*build, *scale, *w7Duration, stderr)
	var perr error
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		perr = enc.Encode(res)
	} else {
		perr = summaryTable(stdout, res, *scale, *w7Duration)
	}
	if perr != nil {
		return perr
	}
	return err
}

// allParts runs link, p11, crypto and W7 one after the other, each in a
// fresh directory, then W7 again with both swtpms at the clients'
// priority (W7Config.SharedCPU), and summarises them. A part that fails leaves the
// others to run; its error is in the result and in the error returned.
func allParts(build string, scale float64, w7Duration time.Duration, stderr io.Writer) (*allResult, error) {
	res := &allResult{Errors: map[string]string{}}
	var in bench.SummaryInput
	var errs []error
	failed := func(part string, err error) string {
		if err == nil {
			return ""
		}
		res.Errors[part] = err.Error()
		errs = append(errs, fmt.Errorf("%s: %w", part, err))
		return err.Error()
	}
	link, err := allPart(stderr, "link", func(dir string) ([]bench.LinkResult, error) {
		return bench.Link(dir, allLinkSizes, scale)
	})
	res.Link, in.Link, in.LinkErr = link, link, failed("link", err)
	p11, err := allPart(stderr, "p11", func(dir string) (*bench.P11Result, error) {
		return bench.P11(bench.P11Config{Dir: dir, Build: build, N: p11Calls(scale)})
	})
	res.P11, in.P11, in.P11Err = p11, p11, failed("p11", err)
	crypto, err := allPart(stderr, "crypto", func(dir string) (*bench.CryptoResult, error) {
		return bench.Crypto(bench.CryptoConfig{Dir: dir, Build: build, Scale: scale})
	})
	res.Crypto, in.Crypto, in.CryptoErr = crypto, crypto, failed("crypto", err)
	w7, err := allPart(stderr, "w7", func(dir string) (*bench.W7Result, error) {
		return bench.W7(bench.W7Config{Dir: dir, Build: build, Ports: allW7Ports, Procs: allW7Procs, Duration: w7Duration, Mech: allW7Mech})
	})
	res.W7, in.W7, in.W7Err = w7, w7, failed("w7", err)
	shared, err := allPart(stderr, "w7 -shared-cpu", func(dir string) (*bench.W7Result, error) {
		return bench.W7(bench.W7Config{Dir: dir, Build: build, Ports: allW7Ports, Procs: allW7Procs, Duration: w7Duration, Mech: allW7Mech, SharedCPU: true})
	})
	res.W7Shared, in.W7Shared, in.W7SharedErr = shared, shared, failed("w7 -shared-cpu", err)
	res.Summary = bench.Summarize(in)
	return res, errors.Join(errs...)
}

// p11Calls is p11's calls per system and workload at scale.
func p11Calls(scale float64) int { return max(10, int(math.Round(2000*scale))) }

// allPart runs one part in a fresh temporary directory, saying on stderr
// what it runs and how long it took.
func allPart[R any](stderr io.Writer, name string, do func(dir string) (R, error)) (R, error) {
	fmt.Fprintf(stderr, "tep-bench all: %s …\n", name)
	start := time.Now()
	res, err := inTempDir(do)
	fmt.Fprintf(stderr, "tep-bench all: %s took %v\n", name, time.Since(start).Round(100*time.Millisecond))
	return res, err
}

// The summary's columns after the workload and TEP's figure.
var peerHeads = map[string]string{
	bench.PeerRaw:        "raw",
	bench.PeerSoftHSM:    "SoftHSMv2",
	bench.PeerTPM2PKCS11: "tpm2-pkcs11",
	bench.PeerP11Kit:     "p11-kit→SoftHSMv2",
	bench.PeerP11KitTPM2: "p11-kit→tpm2-pkcs11",
}

func summaryTable(w io.Writer, res *allResult, scale float64, w7Duration time.Duration) error {
	fmt.Fprintf(w, "tep-bench all: link (32 B, 1 MiB), p11 (%d calls each), crypto (scale %v), w7 (%s, %d ports × %d processes, %v)\n\n",
		p11Calls(scale), scale, allW7Mech, allW7Ports, allW7Procs, w7Duration)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := []string{"workload", "TEP"}
	for _, p := range bench.SummaryPeers {
		head = append(head, peerHeads[p])
	}
	fmt.Fprintln(tw, strings.Join(append(head, "target: this run"), "\t"))
	for _, r := range res.Summary.Rows {
		cells := []string{r.Workload, figureText(r.Unit, r.TEP)}
		for _, p := range bench.SummaryPeers {
			f, ok := r.Peers[p]
			switch {
			case !ok:
				cells = append(cells, "")
			case f.Value <= 0:
				cells = append(cells, "–")
			default:
				cells = append(cells, fmt.Sprintf("%s ×%s", figureText(r.Unit, f), ratioText(f.Ratio)))
			}
		}
		target := ""
		if t := r.Target; t != nil {
			target = fmt.Sprintf("%s: %s (%s)", t.Text, t.Verdict, t.Detail)
		}
		fmt.Fprintln(tw, strings.Join(append(cells, target), "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, summaryLegend, bench.ChipNice)
	return printNotes(w, res.Summary.Notes)
}

const summaryLegend = `
×: TEP's ratio to the figure before it. Times, and the MiB/s rows too: TEP's time over the peer's
(for MiB/s, the peer's MiB/s over TEP's); below 1, TEP is faster. W7: TEP's aggregate ops/s over
the raw TPM's single stream; above 1, TEP is faster. Memory: TEP's VmRSS over the peer's.
TEP: tep-pty (tepd on its simulator) for W1, the framed link alone for link, tep-pty-swtpm for W2–W7.
raw: for link, a raw echo over a pty pair within one process; for W1 the same, timed in W1's rounds
(from p11); for W2–W4, W6 and W7,
bare go-tpm commands on an swtpm of their own; for W5, the bare pty carrying 1 MiB one way, guest to
server, with no framing (from link).
target: the ratio it rests on, then the bound this rig set in the same run, as a ratio to the
same peer: the floor under a time (W1: a raw pty echo; a signature, C_SignInit then C_Sign: raw
plus two echoes) or the ceiling over a rate (W5: the bare pty one way). A target beyond its bound
asks for more than any software could do over this pty, and says so.
swtpm plays a TPM chip: every swtpm runs at nice %d (bench.ChipNice), except in the W7 row that says otherwise.
Memory: tepd idle from p11 with a host connected; a module's is its host's VmRSS after
C_Initialize less before loading it (p11-kit: p11-kit-client.so). Blank: not run there;
–: could not run (see the notes).
`

// figureText formats a figure's value in unit, or a dash for none.
func figureText(unit string, f bench.Figure) string {
	v := f.Value
	if v <= 0 {
		return "–"
	}
	switch unit {
	case bench.UnitNs:
		return durationText(time.Duration(v))
	case bench.UnitMiBps:
		if v < 10 {
			return fmt.Sprintf("%.2f MiB/s", v)
		}
		return fmt.Sprintf("%.1f MiB/s", v)
	case bench.UnitOpsPerS:
		return fmt.Sprintf("%.0f ops/s", v)
	case bench.UnitKiB:
		return fmt.Sprintf("%.1f MiB", v/1024)
	}
	return fmt.Sprintf("%g %s", v, unit)
}

// durationText is d to three significant figures or so.
func durationText(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= 100*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/1e6)
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	case d >= time.Microsecond:
		return fmt.Sprintf("%.1f µs", float64(d)/1e3)
	}
	return fmt.Sprintf("%d ns", d)
}

// ratioText is a ratio to two decimals below 10, fewer above.
func ratioText(x float64) string {
	switch {
	case x >= 100:
		return fmt.Sprintf("%.0f", x)
	case x >= 10:
		return fmt.Sprintf("%.1f", x)
	}
	return fmt.Sprintf("%.2f", x)
}
