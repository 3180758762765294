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
	"io"
	"os"

	"tep.dev/tep/internal/cli"
)

func main() { os.Exit(program.Main(os.Args[1:], cli.IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})) }

const usage = `usage:
  tep-attest enroll --state DIR --tpm SPEC --verifier URL --ca FILE --token T [--host-id ID] [--pull-url URL | --nats URL] [--ima-log PATH] [--boot-log PATH] [--json]
  tep-attest serve  --state DIR --tpm SPEC [--listen ADDR]
  tep-attest run    --state DIR --tpm SPEC [--interval D] [--once] [--json]
  tep-attest run    --state DIR --tpm SPEC --nats URL [--host-id ID] [--nats-ca FILE] [--nats-creds FILE | --nats-nkey FILE | --nats-user U [--nats-password-file F]] [--nats-cert FILE --nats-key FILE]`

var program = &cli.Program{
	Name: "tep-attest", Usage: usage, Signals: true,
	Commands: []cli.Command{
		{Name: "enroll", Run: runEnroll},
		{Name: "serve", Run: runServe},
		{Name: "run", Run: runPush},
	},
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return program.Run(ctx, args, cli.IO{Out: stdout, Err: stderr})
}
