package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"tep.dev/tep/internal/cli"
	"tep.dev/tep/provisioning/config"
	"tep.dev/tep/tpm"
)

// deviceFlags are the flags apply, rollback and status share.
type deviceFlags struct {
	blob, dest, settings, tpm, tpmState string
	json                                bool
}

func (d *deviceFlags) register(fs *flag.FlagSet, withTPM bool) {
	fs.StringVar(&d.blob, "blob", config.DefaultBlob, "the blob `file`; applied/ and rejected/ are beside it")
	fs.StringVar(&d.dest, "dest", config.DefaultDest, "the configuration `directory`")
	fs.StringVar(&d.settings, "settings", config.DefaultSettings, "the device's own settings `file` (hooks, limits)")
	fs.BoolVar(&d.json, "json", false, "print the result as JSON")
	if withTPM {
		fs.StringVar(&d.tpm, "tpm", "/dev/tpmrm0", "the TPM: /dev/tpmrm0, swtpm:HOST:PORT, swtpm:unix:PATH or sim (insecure)")
		fs.StringVar(&d.tpmState, "tpm-state", "", "the simulator's state `directory` (--tpm sim)")
	}
}

func (d *deviceFlags) options(stderr io.Writer) config.Options {
	o := config.Options{Blob: d.blob, Dest: d.dest, SettingsFile: d.settings}
	if f, ok := stderr.(*os.File); ok && isTerminal(f) {
		o.Progress = f
	}
	return o
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

func (d *deviceFlags) open() (*tpm.TPM, error) {
	if d.tpm == "sim" && d.tpmState == "" {
		return nil, errors.New("--tpm sim needs --tpm-state DIR")
	}
	return tpm.Open(d.tpm, d.tpmState)
}

func parse(name string, args []string, stderr io.Writer, withTPM bool) (*deviceFlags, error) {
	fs := flag.NewFlagSet("tep-config "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	d := new(deviceFlags)
	d.register(fs, withTPM)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return d, nil
}

func runApply(_ context.Context, args []string, std cli.IO) error {
	stdout, stderr := std.Out, std.Err
	d, err := parse("apply", args, stderr, true)
	if err != nil {
		return err
	}
	t, err := d.open()
	if err != nil {
		return err
	}
	defer t.Close()
	r, err := config.Apply(config.TPMDevice{T: t}, d.options(stderr))
	if d.json {
		printJSON(stdout, r)
	} else if err == nil {
		fmt.Fprintf(stdout, "applied epoch %d (%s mode, signer %s) to %s: %d path(s) changed, %d hook(s) run\n",
			r.Epoch, r.Mode, r.Signer[:16], r.Dest, len(r.Changed), len(r.Hooks))
	}
	if err != nil && r.Record != "" {
		return fmt.Errorf("%w (blob kept as %s)", err, r.Record)
	}
	return err
}

func runRollback(_ context.Context, args []string, std cli.IO) error {
	stdout, stderr := std.Out, std.Err
	d, err := parse("rollback", args, stderr, false)
	if err != nil {
		return err
	}
	r, err := config.Rollback(d.options(stderr))
	if d.json {
		printJSON(stdout, r)
	} else if err == nil {
		fmt.Fprintf(stdout, "rolled %s back: %d path(s) changed, %d hook(s) run (the epoch counter stays)\n", r.Dest, len(r.Changed), len(r.Hooks))
	}
	return err
}

func runStatus(_ context.Context, args []string, std cli.IO) error {
	stdout, stderr := std.Out, std.Err
	d, err := parse("status", args, stderr, true)
	if err != nil {
		return err
	}
	t, err := d.open()
	if err != nil {
		return err
	}
	defer t.Close()
	s, err := config.GetStatus(config.TPMDevice{T: t}, d.options(stderr))
	if err != nil {
		return err
	}
	if d.json {
		printJSON(stdout, s)
		return nil
	}
	fmt.Fprintf(stdout, "epoch counter:  %d\n", s.Epoch)
	if s.PolicyKey != "" {
		fmt.Fprintf(stdout, "policy key:     %s\n", s.PolicyKey)
	} else {
		fmt.Fprintf(stdout, "policy key:     absent (%s)\n", s.Error)
	}
	fmt.Fprintf(stdout, "configuration:  %s (present: %v, previous kept: %v)\n", s.Dest, s.HasDest, s.HasPrevious)
	if s.LastApplied != "" {
		fmt.Fprintf(stdout, "last applied:   %s\n", s.LastApplied)
	}
	return nil
}

func printJSON(w io.Writer, v any) {
	b, _ := json.MarshalIndent(v, "", "  ")
	fmt.Fprintf(w, "%s\n", b)
}
