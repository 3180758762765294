// Command tep-attest is TEP's attestation agent: it enrols the device's
// TPM with a verifier and then proves the device's state to it, in pull
// mode (a small HTTPS server the verifier calls) or push mode (the agent
// calls the verifier on a schedule, for devices behind NAT).
//
//	tep-attest enroll --state DIR --tpm SPEC --verifier URL --ca FILE --token T [--host-id ID] [--pull-url URL | --nats URL] [--ima-log PATH] [--boot-log PATH] [--json]
//	tep-attest serve  --state DIR --tpm SPEC [--listen ADDR]
//	tep-attest run    --state DIR --tpm SPEC [--interval D] [--once] [--json]
//	tep-attest run    --state DIR --tpm SPEC --nats URL [--host-id ID] [--nats-ca FILE] [--nats-creds FILE | --nats-nkey FILE | --nats-user U [--nats-password-file F]] [--nats-cert FILE --nats-key FILE]
//
// enroll pins the verifier's certificate (--ca) in DIR/attest.json; serve
// and run trust only it. With --pull-url, enroll also makes the agent's
// TLS certificate (DIR/pull-cert.pem), which the verifier pins, and serve
// answers only a client presenting the verifier's certificate. With
// --nats, enroll records NATS mode (devices behind NAT): run then keeps
// one outbound connection to the NATS server and answers the verifier's
// quote requests on trust-agent.ID.quote, reconnecting with backoff; the
// server's certificate is checked against --nats-ca (or the system's
// roots). Nothing disables certificate checks.
//
// SPEC is as tepd's: "sim" (insecure, development only),
// "swtpm:HOST:PORT", "swtpm:unix:PATH" or a device such as /dev/tpmrm0.
//
// Exit status: 0 on success, 1 on any error (printed once, on stderr), 2
// for a usage error.
package main

import (
	"context"
	"errors"
	"flag"
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
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tep-attest:", err)
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

const usage = `usage:
  tep-attest enroll --state DIR --tpm SPEC --verifier URL --ca FILE --token T [--host-id ID] [--pull-url URL | --nats URL] [--ima-log PATH] [--boot-log PATH] [--json]
  tep-attest serve  --state DIR --tpm SPEC [--listen ADDR]
  tep-attest run    --state DIR --tpm SPEC [--interval D] [--once] [--json]
  tep-attest run    --state DIR --tpm SPEC --nats URL [--host-id ID] [--nats-ca FILE] [--nats-creds FILE | --nats-nkey FILE | --nats-user U [--nats-password-file F]] [--nats-cert FILE --nats-key FILE]`

// usageError is a command line that cannot be run: exit status 2.
type usageError struct{ msg string }

// parseFlags parses args into fs; a flag it does not know, or a bad value,
// is a usage error (exit status 2), --help is flag.ErrHelp.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return usageError{err.Error()}
}

func (e usageError) Error() string { return e.msg + "\n" + usage }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"no command"}
	}
	switch args[0] {
	case "enroll":
		return runEnroll(ctx, args[1:], stdout, stderr)
	case "serve":
		return runServe(ctx, args[1:], stderr)
	case "run":
		return runPush(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return usageError{fmt.Sprintf("unknown command %q", args[0])}
}
