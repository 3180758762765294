package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"tep.dev/tep/internal/cli"
	"tep.dev/tep/tpm"
)

// flagSet is a subcommand's flags, with the --tpm every one takes.
type flagSet struct {
	*flag.FlagSet
	tpm    *string
	stdout io.Writer
	line   string // the subcommand's usage line
}

func newFlagSet(name, line string, stdout, stderr io.Writer) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &flagSet{FlagSet: fs, stdout: stdout, line: line}
	f.tpm = fs.String("tpm", defaultTPM, "TPM: /dev/tpmrm0, swtpm:HOST:PORT, swtpm:unix:PATH or sim")
	fs.Usage = func() {}
	return f
}

// parse parses args; --help prints the subcommand's usage and flags on
// stdout and returns flag.ErrHelp, which ends the program with success.
func (f *flagSet) parse(args []string) error {
	err := cli.Parse(f.FlagSet, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprintf(f.stdout, "usage: %s\n", f.line)
		f.SetOutput(f.stdout)
		f.PrintDefaults()
		return err
	case err != nil:
		return err
	case f.NArg() > 0:
		return cli.Usagef("%s: unexpected argument %q", f.Name(), f.Arg(0))
	}
	return nil
}

// open opens the TPM --tpm names. The simulator gets a fresh seed each
// time: it keeps nothing between runs anyway.
func (f *flagSet) open() (*tpm.TPM, error) {
	t, err := tpm.Open(*f.tpm, "")
	if err != nil {
		return nil, err
	}
	return t, nil
}
