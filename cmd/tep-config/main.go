// Command tep-config seals configuration blobs on the host and applies
// them on the device (issue 16; docs/config-blob.md).
//
//	tep-config seal --in DIR|FILE.tgz --sign-key KEY (--aes-key FILE | --to DEVICE.pub) --epoch N -o FILE
//	tep-config apply    [--blob FILE] [--dest DIR] [--settings FILE] [--tpm SPEC] [--json]
//	tep-config rollback [--dest DIR] [--settings FILE] [--json]
//	tep-config status   [--blob FILE] [--dest DIR] [--tpm SPEC] [--json]
//
// seal needs no TPM. KEY is a PEM private key file or a pkcs11: URI.
// apply, rollback and status run on the device as root; dist/tep-config.path
// runs apply when a blob arrives. The exit status is 0 on success and 1
// otherwise; with --json the result goes to stdout either way.
package main

import (
	"context"
	"errors"
	"io"
	"os"

	"tep.dev/tep/internal/cli"
)

func main() { os.Exit(program.Main(os.Args[1:], cli.IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})) }

const usage = `usage:
  tep-config seal --in DIR|FILE.tgz --sign-key KEY.pem|pkcs11:URI (--aes-key FILE | --to DEVICE.pub) --epoch N -o FILE
  tep-config apply    [--blob FILE] [--dest DIR] [--settings FILE] [--tpm SPEC] [--json]
  tep-config rollback [--dest DIR] [--settings FILE] [--json]
  tep-config status   [--blob FILE] [--dest DIR] [--tpm SPEC] [--json]`

var program = &cli.Program{
	Name: "tep-config", Usage: usage,
	// Every failure is status 1, as the package doc says; the usage
	// alone is the error for an empty command line.
	NoCommand: errors.New(usage),
	ExitCode:  func(error) int { return 1 },
	Commands: []cli.Command{
		{Name: "seal", Run: runSeal},
		{Name: "apply", Run: runApply},
		{Name: "rollback", Run: runRollback},
		{Name: "status", Run: runStatus},
	},
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return program.Run(context.Background(), args, cli.IO{In: stdin, Out: stdout, Err: stderr})
}
