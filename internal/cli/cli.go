package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"syscall"
)

// IO is a command's standard streams.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
}

// Command is a subcommand: Run gets the command line after its name.
type Command struct {
	Name string
	Run  func(ctx context.Context, args []string, std IO) error
}

// Program is a command made of subcommands.
type Program struct {
	// Name starts every error message ("tep-attest: ...").
	Name string
	// Usage is what help prints; it follows every usage error.
	Usage    string
	Commands []Command
	// Signals makes SIGINT and SIGTERM cancel the context the
	// subcommands get, for those that shut down cleanly; without it
	// they end the process as usual.
	Signals bool
	// NoCommand is the error for an empty command line; nil is the
	// usage error "no command".
	NoCommand error
	// ExitCode maps Run's error (never nil) to the exit status; nil is
	// [ExitCode].
	ExitCode func(error) int
}

// UsageError is a command line that cannot run: exit status 2, with the
// usage printed after it.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Usagef returns a UsageError with the message fmt.Sprintf makes.
func Usagef(format string, a ...any) error {
	return &UsageError{fmt.Sprintf(format, a...)}
}

// Parse parses args into fs (made with flag.ContinueOnError). A flag
// fs does not know, or a bad value, is a UsageError; --help, which fs
// answers by printing its defaults, is flag.ErrHelp.
func Parse(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return &UsageError{err.Error()}
}

// ExitCode is the house's exit status for err: 0 for nil and
// flag.ErrHelp, 2 for a UsageError, 1 for any other error.
func ExitCode(err error) int {
	var ue *UsageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		return 2
	}
	return 1
}

// Run runs the subcommand that args[0] names with the rest of args.
func (p *Program) Run(ctx context.Context, args []string, std IO) error {
	if len(args) == 0 {
		if p.NoCommand != nil {
			return p.NoCommand
		}
		return Usagef("no command")
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprintln(std.Out, p.Usage)
		return nil
	}
	for _, c := range p.Commands {
		if c.Name == args[0] {
			return c.Run(ctx, args[1:], std)
		}
	}
	return Usagef("unknown command %q", args[0])
}

// Main runs the command line args (without the program's name) and
// returns the exit status, having printed the error, if the status is
// not 0, on std.Err. A command's main is os.Exit(p.Main(...)).
func (p *Program) Main(args []string, std IO) int {
	ctx := context.Background()
	if p.Signals {
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
		defer stop()
	}
	err := p.Run(ctx, args, std)
	if err == nil {
		return 0
	}
	code := ExitCode(err)
	if p.ExitCode != nil {
		code = p.ExitCode(err)
	}
	if code != 0 {
		var ue *UsageError
		if errors.As(err, &ue) {
			fmt.Fprintf(std.Err, "%s: %v\n%s\n", p.Name, err, p.Usage)
		} else {
			fmt.Fprintf(std.Err, "%s: %v\n", p.Name, err)
		}
	}
	return code
}
