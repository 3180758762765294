// Command tepd serves PKCS#11 over virtual UARTs from the TPM-owning
// trusted VM.
//
//	tepd init  --state DIR --tpm SPEC --label LABEL --so-pin PIN --user-pin PIN [--pin-tries N] [--min-rsa-bits N]
//	tepd serve --state DIR --tpm SPEC [--pty DIR] [--port DEV]... [--listen unix:PATH]...
//	tepd key   --state DIR --tpm SPEC [--json]
//	tepd unlock-so --state DIR [--slot N]
//
// init and serve make the secure channel's static key if the state
// directory has none; key prints it, for TEP_SERVER_KEY on the guests.
//
// SPEC is "sim" (the embedded TPM simulator: insecure, for development
// only), "swtpm:HOST:PORT" (swtpm's TCP data port), "swtpm:unix:PATH"
// (swtpm's Unix data socket) or a device such as /dev/tpmrm0.
//
// One tepd at a time uses a state directory: every command that opens it
// first takes DIR/tepd.lock, and a second one exits at once naming the
// holder's PID. dist/tepd.service runs tepd serve under systemd, which it
// tells READY=1 once its ports are open.
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
  tepd init  --state DIR --tpm SPEC --label LABEL --so-pin PIN --user-pin PIN [--pin-tries N] [--min-rsa-bits N]
  tepd serve --state DIR --tpm SPEC [--pty DIR] [--port DEV]... [--listen unix:PATH]... [--config FILE]
  tepd key   --state DIR --tpm SPEC [--json]
  tepd unlock-so --state DIR [--slot N]   (with tepd stopped)`

var program = &cli.Program{
	Name: "tepd", Usage: usage, Signals: true,
	// Every failure is status 1, a bad command line too; the usage
	// alone is the error for an empty command line.
	NoCommand: errors.New(usage),
	ExitCode:  func(error) int { return 1 },
	Commands: []cli.Command{
		{Name: "init", Run: runInit},
		{Name: "serve", Run: runServe},
		{Name: "unlock-so", Run: runUnlockSO},
		{Name: "key", Run: runKey},
	},
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return program.Run(ctx, args, cli.IO{Out: stdout, Err: stderr})
}
