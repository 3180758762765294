package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"tep.dev/tep/internal/cli"
	"tep.dev/tep/provisioning/device"
)

// runStatus is `tep-provision status`: what is at each handle.
func runStatus(_ context.Context, args []string, std cli.IO) error {
	stdout, stderr := std.Out, std.Err
	fs := newFlagSet("status", "tep-provision status [--json] [--tpm SPEC]", stdout, stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.parse(args); err != nil {
		return err
	}
	t, err := fs.open()
	if err != nil {
		return err
	}
	entries, err := device.ReadStatus(t)
	if cerr := t.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			TPM     string         `json:"tpm"`
			Handles []device.Entry `json:"handles"`
		}{*fs.tpm, entries})
	}
	for _, e := range entries {
		fmt.Fprintln(stdout, describe(e))
	}
	return nil
}

// describe is one line of status for people.
func describe(e device.Entry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %-28s", e.Handle, e.What)
	if !e.Present {
		b.WriteString("  absent")
		return b.String()
	}
	b.WriteString("  present")
	if e.Type != "" {
		b.WriteString(", " + e.Type)
	}
	if e.Fingerprint != "" {
		b.WriteString(", SHA256:" + e.Fingerprint)
	}
	if e.Value != nil {
		fmt.Fprintf(&b, ", value %d", *e.Value)
	}
	if e.Problem != "" {
		b.WriteString("; problem: " + e.Problem)
	}
	return b.String()
}

// runClear is `tep-provision clear`: it removes what tep-provision wrote,
// and with --all the counters and the LUKS passphrase too.
func runClear(_ context.Context, args []string, std cli.IO) error {
	stdin, stdout, stderr := std.In, std.Out, std.Err
	fs := newFlagSet("clear", "tep-provision clear [--all] [--yes] [--tpm SPEC]", stdout, stderr)
	all := fs.Bool("all", false, "also remove the NV counters and the sealed LUKS passphrase")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	if err := fs.parse(args); err != nil {
		return err
	}
	if !*yes && !isTerminal(stdin) {
		return errors.New("clear asks for confirmation on a terminal; with standard input not a terminal, pass --yes")
	}
	t, err := fs.open()
	if err != nil {
		return err
	}
	defer t.Close()
	entries, err := device.ReadStatus(t)
	if err != nil {
		return err
	}
	var doomed []device.Entry
	for i, e := range entries {
		if e.Present && (*all || !device.Slots[i].Precious) {
			doomed = append(doomed, e)
		}
	}
	if len(doomed) == 0 {
		fmt.Fprintln(stdout, "nothing to remove")
		return nil
	}
	if !*yes {
		fmt.Fprintln(stderr, "tep-provision clear will remove from the TPM:")
		for _, e := range doomed {
			fmt.Fprintln(stderr, "  "+describe(e))
		}
		if !confirm(stdin, stderr) {
			return errors.New("clear: not confirmed; nothing removed")
		}
	}
	removed, err := device.Clear(t, *all)
	for _, s := range removed {
		fmt.Fprintf(stdout, "removed %s at 0x%08x\n", s.What, uint32(s.Handle))
	}
	return err
}

// isTerminal reports whether r is a terminal.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// confirm asks on w and reads the answer from r: yes or y goes on.
func confirm(r io.Reader, w io.Writer) bool {
	fmt.Fprint(w, "remove them? [y/N] ")
	line, _ := bufio.NewReader(r).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}
