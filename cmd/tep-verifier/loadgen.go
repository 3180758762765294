package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"tep.dev/tep/attest/loadgen"
	"tep.dev/tep/attest/simdevice"
	"tep.dev/tep/internal/cli"
)

// runLoadgen simulates devices pushing to a verifier (package
// attest/loadgen), or with --init-ca makes the EK CA they need.
func runLoadgen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o opFlags
	var cfg loadgen.Config
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.register(fs)
	fs.Lookup("verifier").Usage = "the verifier's URL, or its replicas' URLs separated by commas, the devices split between them (TEP_VERIFIER_URL)"
	initCA := fs.String("init-ca", "", "make a new EK CA in this directory (for serve's --ek-ca DIR/"+simdevice.CACertFile+") and exit")
	caDir := fs.String("ek-ca-dir", "", "the EK CA's directory, made by --init-ca")
	tokens := fs.String("enroll-tokens", "", "file of one-time enrolment tokens, one a line, one a device (instead of an admin --token, which allows the devices' EKs)")
	fs.IntVar(&cfg.Devices, "devices", 0, "how many devices to simulate")
	fs.StringVar(&cfg.HostPrefix, "host-prefix", "sim-", "start of every host id; each run on one verifier needs its own")
	fs.DurationVar(&cfg.Interval, "interval", time.Minute, "how often each device attests")
	fs.IntVar(&cfg.IMAEntries, "ima-entries", 5000, "IMA log entries at a device's first report")
	fs.IntVar(&cfg.IMAStep, "ima-step", 50, "IMA log entries added before each later report")
	fs.DurationVar(&cfg.Duration, "duration", 0, "how long to push after enrolling; 0: until interrupted")
	fs.IntVar(&cfg.EnrollParallel, "parallel", 8, "enrolments (and first reports) at a time")
	cfg.NATS.Flags(fs)
	fs.Lookup("nats").Usage = "NATS mode: the devices answer the verifier's pulls over this NATS server (serve --nats, with --pull-interval equal to --interval)"
	fs.BoolVar(&cfg.KeepHosts, "keep-hosts", false, "NATS mode: leave the devices' hosts on the verifier at the end (by default they are deleted, or serve keeps pulling them)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *initCA != "" {
		return writeCA(*initCA, stdout)
	}
	if cfg.Devices <= 0 || o.url == "" || o.ca == "" || *caDir == "" || (o.token == "" && *tokens == "") {
		return cli.Usagef("loadgen: --devices, --verifier, --ca, --ek-ca-dir and --token or --enroll-tokens are required")
	}
	if err := checkNATSFlags(fs, o.token); err != nil {
		return err
	}
	if cfg.NATS.User != "" && cfg.NATS.PasswordFile == "" {
		cfg.NATS.Password = os.Getenv("TEP_NATS_PASSWORD")
	}
	var err error
	if cfg.VerifierCert, err = os.ReadFile(o.ca); err != nil {
		return err
	}
	if cfg.CA, err = simdevice.LoadCA(*caDir); err != nil {
		return err
	}
	if *tokens != "" {
		if cfg.EnrollTokens, err = readLines(*tokens); err != nil {
			return err
		}
	}
	cfg.Verifiers, cfg.AdminToken = strings.Split(o.url, ","), o.token
	res, err := loadgen.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(stdout, res)
	}
	printResult(stdout, res)
	return nil
}

// checkNATSFlags refuses NATS options without --nats, and NATS mode
// without the operator's token that reads the verifier's figures.
func checkNATSFlags(fs *flag.FlagSet, token string) error {
	var set []string
	nats := false
	fs.Visit(func(f *flag.Flag) {
		switch {
		case f.Name == "nats":
			nats = f.Value.String() != ""
		case f.Name == "keep-hosts" || strings.HasPrefix(f.Name, "nats-"):
			set = append(set, "--"+f.Name)
		}
	})
	switch {
	case !nats && len(set) > 0:
		return cli.Usagef("loadgen: %s without --nats", strings.Join(set, ", "))
	case nats && token == "":
		return cli.Usagef("loadgen --nats: --token is required (an operator's, to read the verifier's metrics and reports)")
	}
	return nil
}

func writeCA(dir string, stdout io.Writer) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	ca, err := simdevice.NewCA(nil)
	if err != nil {
		return err
	}
	if err := ca.Write(dir); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "EK CA written; give the verifier --ek-ca %s/%s\n", strings.TrimRight(dir, "/"), simdevice.CACertFile)
	return nil
}

func readLines(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			lines = append(lines, l)
		}
	}
	return lines, sc.Err()
}

func printResult(w io.Writer, r loadgen.Result) {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
	if r.Mode == "nats" {
		printNATSResult(w, r, ms)
		return
	}
	fmt.Fprintf(w, "devices:      %d (%d enrolled, %d with a report)\n", r.Devices, r.Enrolled, r.Reported)
	fmt.Fprintf(w, "attestations: %d (%d trusted), %d failed, %d missed, %.1f/s over %s\n", r.Attested, r.Trusted, r.Failed, r.Missed, r.Rate, r.Elapsed.Round(time.Second))
	fmt.Fprintf(w, "latency:      p50 %s  p95 %s  p99 %s  max %s\n", ms(r.P50), ms(r.P95), ms(r.P99), ms(r.Max))
	fmt.Fprintf(w, "generator:    %s CPU (%s while pushing)\n", r.CPU.Round(time.Millisecond), r.PushCPU.Round(time.Millisecond))
	for _, e := range r.Errors {
		fmt.Fprintf(w, "error:        %s\n", e)
	}
}

// printNATSResult prints a NATS run, whose figures are the verifier's.
func printNATSResult(w io.Writer, r loadgen.Result, ms func(time.Duration) string) {
	fmt.Fprintf(w, "devices:      %d over NATS (%d enrolled, %d with a report)\n", r.Devices, r.Enrolled, r.Reported)
	fmt.Fprintf(w, "quotes:       %d answered, %d failed (of which %d rejected by the verifier)\n", r.Quotes, r.Failed, r.Rejected)
	fmt.Fprintf(w, "reports:      %d stored (%d trusted), %.1f/s over %s\n", r.Attested, r.Trusted, r.Rate, r.Elapsed.Round(time.Second))
	fmt.Fprintf(w, "schedule:     %d devices late (two intervals or more without a report), %d attestations missed, longest gap %s\n", r.Late, r.Missed, r.MaxGap.Round(time.Millisecond))
	fmt.Fprintf(w, "verification: p50 %s  p95 %s  p99 %s  max <= %s (the verifier's histogram, interpolated)\n", ms(r.P50), ms(r.P95), ms(r.P99), ms(r.Max))
	fmt.Fprintf(w, "generator:    %s CPU (%s in the timed part)\n", r.CPU.Round(time.Millisecond), r.PushCPU.Round(time.Millisecond))
	for _, e := range r.Errors {
		fmt.Fprintf(w, "error:        %s\n", e)
	}
}
