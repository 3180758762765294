package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

var errFailed = errors.New("it failed")

// demo is a program with a subcommand of each outcome.
func demo() *Program {
	return &Program{
		Name:  "demo",
		Usage: "usage:\n  demo ok|fail|usage|flags [-n N]",
		Commands: []Command{
			{"ok", func(_ context.Context, args []string, std IO) error {
				fmt.Fprintln(std.Out, "done", args)
				return nil
			}},
			{"fail", func(context.Context, []string, IO) error { return fmt.Errorf("fail: %w", errFailed) }},
			{"usage", func(context.Context, []string, IO) error {
				return fmt.Errorf("usage: %w", Usagef("--x %q: want y", "z"))
			}},
			{"flags", func(_ context.Context, args []string, std IO) error {
				fs := flag.NewFlagSet("flags", flag.ContinueOnError)
				fs.SetOutput(std.Err)
				fs.Int("n", 0, "a number")
				return Parse(fs, args)
			}},
		},
	}
}

func TestProgramMain(t *testing.T) {
	for _, c := range []struct {
		args           []string
		code           int
		stdout, stderr string // each in its stream; "" wants the stream empty
	}{
		{[]string{"ok", "a"}, 0, "done [a]", ""},
		{[]string{"--help"}, 0, "demo ok|fail", ""},
		{[]string{"-h"}, 0, "demo ok|fail", ""},
		{[]string{"help"}, 0, "demo ok|fail", ""},
		{nil, 2, "", "demo: no command\nusage:\n  demo ok"},
		{[]string{"frob"}, 2, "", "demo: unknown command \"frob\"\nusage:"},
		{[]string{"fail"}, 1, "", "demo: fail: it failed\n"},
		{[]string{"usage"}, 2, "", "demo: usage: --x \"z\": want y\nusage:\n  demo"},
		{[]string{"flags", "-n", "x"}, 2, "", "demo: invalid value \"x\" for flag -n"},
		{[]string{"flags", "--bogus"}, 2, "", "flag provided but not defined: -bogus"},
		{[]string{"flags", "--help"}, 0, "", "-n int"},
		{[]string{"flags", "-n", "3"}, 0, "", ""},
	} {
		var out, errOut bytes.Buffer
		code := demo().Main(c.args, IO{Out: &out, Err: &errOut})
		for _, s := range []struct{ name, got, want string }{{"stdout", out.String(), c.stdout}, {"stderr", errOut.String(), c.stderr}} {
			if (s.want == "") != (s.got == "") || !strings.Contains(s.got, s.want) {
				t.Errorf("Main(%q) %s = %q, want %q in it", c.args, s.name, s.got, s.want)
			}
		}
		if code != c.code {
			t.Errorf("Main(%q) = %d, want %d", c.args, code, c.code)
		}
	}
}

// TestProgramKnobs checks NoCommand and a program's own ExitCode, which
// also decides whether a help request is an error to print.
func TestProgramKnobs(t *testing.T) {
	p := demo()
	p.NoCommand = errors.New("usage:\n  demo ...")
	p.ExitCode = func(err error) int {
		if errors.Is(err, errFailed) {
			return 7
		}
		return 1
	}
	for _, c := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{nil, 1, "demo: usage:\n  demo ...\n"},
		{[]string{"fail"}, 7, "demo: fail: it failed\n"},
		{[]string{"frob"}, 1, "demo: unknown command \"frob\"\nusage:"},
		{[]string{"flags", "--help"}, 1, "demo: flag: help requested\n"},
	} {
		var out, errOut bytes.Buffer
		if code := p.Main(c.args, IO{Out: &out, Err: &errOut}); code != c.code || !strings.Contains(errOut.String(), c.stderr) {
			t.Errorf("Main(%q) = %d, stderr %q; want %d, %q", c.args, code, errOut.String(), c.code, c.stderr)
		}
	}
}

// TestSignals checks that with Signals a SIGTERM cancels the context
// the subcommand gets instead of ending the process.
func TestSignals(t *testing.T) {
	started := make(chan struct{})
	p := &Program{Name: "demo", Signals: true, Commands: []Command{
		{"wait", func(ctx context.Context, _ []string, _ IO) error {
			close(started)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Minute):
				return errors.New("no signal arrived")
			}
		}},
	}}
	done := make(chan int)
	var errOut bytes.Buffer
	go func() { done <- p.Main([]string{"wait"}, IO{Out: &bytes.Buffer{}, Err: &errOut}) }()
	<-started
	syscall.Kill(syscall.Getpid(), syscall.SIGTERM)
	if code := <-done; code != 1 || !strings.Contains(errOut.String(), "context canceled") {
		t.Errorf("Main after SIGTERM = %d, %q; want 1 and the cancelled context", code, errOut.String())
	}
}
