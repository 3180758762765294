package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"tep.dev/tep/provisioning/luks"
	"tep.dev/tep/tpm"
)

// runDevice runs setup, unlock, status or revoke.
func runDevice(ctx context.Context, cmd string, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	tpmSpec := fs.String("tpm", "/dev/tpmrm0", "TPM: sim, swtpm:HOST:PORT, swtpm:unix:PATH or a device path")
	cfgPath := fs.String("config", luks.DefaultConfigPath, "the signed LUKS configuration (YAML)")
	state := fs.String("state", luks.DefaultStateDir, "state directory (the marker of a format in progress)")
	asJSON := fs.Bool("json", false, "print JSON")
	var reformat, yes *bool
	if cmd == "setup" {
		reformat = fs.Bool("reformat-destroys-data", false, "format a partition that holds a LUKS volume the sealed passphrase does not open, destroying its data")
		yes = fs.Bool("yes", false, "do not ask for confirmation")
	}
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	cfg, err := readConfig(*cfgPath)
	if err != nil {
		return err
	}
	t, err := tpm.Open(*tpmSpec, "")
	if err != nil {
		return err
	}
	defer t.Close()
	d := &luks.Device{TPM: t, StateDir: *state, Log: stderr}
	if *asJSON {
		d.Log = nil
	}
	var out any
	switch cmd {
	case "status":
		s, err := d.Status(cfg)
		if err != nil {
			return err
		}
		if !*asJSON {
			s.Print(stdout)
			return nil
		}
		out = s
	case "setup":
		opts := luks.SetupOptions{ReformatDestroysData: *reformat, Yes: *yes, Confirm: askOn(stdin, stderr)}
		out, err = d.Setup(ctx, cfg, opts)
	case "unlock":
		out, err = d.Unlock(ctx, cfg)
	case "revoke":
		out, err = d.Revoke(cfg)
	}
	if err != nil {
		return err
	}
	return report(stdout, *asJSON, out)
}

// readConfig reads the YAML, which by default sits in the update user's
// upload folder: a link there could make root print lines of any file in
// its errors (YAML's messages quote them), and a FIFO would hang the boot
// unit, so it takes a regular file and no link.
func readConfig(path string) (*luks.Config, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("reading the LUKS configuration: %s is a symbolic link; give the file itself with --config", path)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the LUKS configuration: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("reading the LUKS configuration: %s is not a regular file", path)
	}
	c, err := luks.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

func report(w io.Writer, asJSON bool, v any) error {
	if asJSON {
		return json.NewEncoder(w).Encode(v)
	}
	r, ok := v.(luks.Result)
	if !ok {
		return nil
	}
	switch r.Action {
	case "revoked":
		fmt.Fprintf(w, "revoked: configurations with an epoch below %d no longer unlock\n", r.Counter)
	default:
		fmt.Fprintf(w, "%s %s", r.Action, r.Device)
		if r.Mapped {
			fmt.Fprintf(w, ", mounted at %s", r.Mount)
		}
		fmt.Fprintln(w)
	}
	return nil
}

// askOn asks a yes/no question on stderr and reads the answer from stdin.
func askOn(stdin io.Reader, stderr io.Writer) func(string) (bool, error) {
	return func(q string) (bool, error) {
		fmt.Fprintf(stderr, "%s Type yes to go on: ", q)
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return false, err
		}
		return strings.TrimSpace(line) == "yes", nil
	}
}
