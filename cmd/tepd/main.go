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
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tepd:", err)
		os.Exit(1)
	}
}

const usage = `usage:
  tepd init  --state DIR --tpm SPEC --label LABEL --so-pin PIN --user-pin PIN [--pin-tries N] [--min-rsa-bits N]
  tepd serve --state DIR --tpm SPEC [--pty DIR] [--port DEV]... [--listen unix:PATH]... [--config FILE]
  tepd key   --state DIR --tpm SPEC [--json]
  tepd unlock-so --state DIR [--slot N]   (with tepd stopped)`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%s", usage)
	}
	switch args[0] {
	case "init":
		return runInit(args[1:], stdout, stderr)
	case "serve":
		return runServe(ctx, args[1:], stdout, stderr)
	case "unlock-so":
		return runUnlockSO(args[1:], stdout, stderr)
	case "key":
		return runKey(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usage)
}
