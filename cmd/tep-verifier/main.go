// Command tep-verifier is TEP's attestation verifier: a service that
// enrols hosts' TPMs, appraises their evidence against flavors and a
// runtime policy, and keeps signed trust reports; and the operator's
// commands that talk to it.
//
//	tep-verifier serve  --state DIR [--db sqlite:PATH|postgres://...] [--replica NAME] [--listen ADDR] [--ek-ca FILE]... [--client-ca FILE] [--san NAME]... [--pull-interval D]
//	                    [--pull-timeout D] [--pull-parallel N] [--interval D] [--stale-after N] [--shutdown-timeout D]
//	                    [--nats URL [--nats-ca FILE] [--nats-creds FILE | --nats-nkey FILE | --nats-user U [--nats-password-file F]]]
//	tep-verifier token create --state DIR [--db ...] --role admin|auditor|enroll [--ttl D] [--json]
//	tep-verifier token revoke --state DIR ID
//	tep-verifier token list   --state DIR [--json]
//	tep-verifier hosts   [--verifier URL --ca FILE --token T] [--json]
//	tep-verifier reports [--verifier URL --ca FILE --token T] [--host ID] [--latest] [--since T] [--until T] [--json]
//	tep-verifier flavors list|add FILE|import --from-host ID [--verifier URL --ca FILE --token T] [--json]
//	tep-verifier loadgen --init-ca DIR
//	tep-verifier loadgen --devices N --verifier URL --ca FILE --ek-ca-dir DIR --token ADMIN [--interval D] [--duration D] [--nats URL ...] [--json]
//
// loadgen simulates devices (software EK and AK, EK certificates from a
// test CA that --init-ca makes and serve must trust) that enrol and push
// evidence, and reports the latency of their attestations; with --nats
// they enrol in NATS mode and answer the pulls of a serve --nats, and
// loadgen reports the verifier's own latency histogram and stored
// reports. It is a benchmark tool, never the real agent.
//
// serve also answers /healthz and /readyz to anyone, and /metrics
// (Prometheus) and the dashboard at /dashboard/ to operators; on SIGTERM
// it takes no new connection and finishes the requests in flight.
//
// serve keeps its database (SQLite), TLS certificate and report-signing
// key in DIR, making the certificate and key on first start; agents pin
// DIR/tls-cert.pem. With --db postgres://... (or TEP_VERIFIER_DB) the
// database is PostgreSQL instead, and any number of serve processes
// with copies of one DIR share it and its scheduled pulls (replicas).
// token works on DIR's database (or --db) directly (run it as the
// service's user, beside the service). The operator commands take
// --verifier, --ca and --token or TEP_VERIFIER_URL, TEP_VERIFIER_CA and
// TEP_VERIFIER_TOKEN. With --nats, serve also reaches hosts that
// enrolled in NATS mode, by request/reply on their trust-agent.ID.quote
// subjects, on the same schedule as pull-mode hosts.
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
		fmt.Fprintln(os.Stderr, "tep-verifier:", err)
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

const usage = `usage:
  tep-verifier serve  --state DIR [--db sqlite:PATH|postgres://...] [--replica NAME] [--listen ADDR] [--ek-ca FILE]... [--client-ca FILE] [--san NAME]... [--pull-interval D]
                      [--pull-timeout D] [--pull-parallel N] [--interval D] [--stale-after N] [--shutdown-timeout D]
                      [--nats URL [--nats-ca FILE] [--nats-creds FILE | --nats-nkey FILE | --nats-user U [--nats-password-file F]]]
  tep-verifier token create --state DIR [--db ...] --role admin|auditor|enroll [--ttl D] [--json]
  tep-verifier token revoke --state DIR ID
  tep-verifier token list   --state DIR [--json]
  tep-verifier hosts   [--verifier URL --ca FILE --token T] [--json]
  tep-verifier reports [--verifier URL --ca FILE --token T] [--host ID] [--latest] [--since T] [--until T] [--json]
  tep-verifier flavors list | add FILE | import --from-host ID  [--verifier URL --ca FILE --token T] [--json]
  tep-verifier templates list | add FILE  [--verifier URL --ca FILE --token T] [--json]
  tep-verifier groups list | add FILE  [--verifier URL --ca FILE --token T] [--json]
  tep-verifier loadgen --init-ca DIR
  tep-verifier loadgen --devices N --verifier URL --ca FILE --ek-ca-dir DIR --token ADMIN|--enroll-tokens FILE [--interval D] [--duration D]
                       [--ima-entries N] [--ima-step N] [--host-prefix P] [--parallel N] [--json]
                       [--nats URL [--nats-ca FILE] [--nats-creds FILE | --nats-nkey FILE | --nats-user U [--nats-password-file F]] [--keep-hosts]]`

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
	case "serve":
		return runServe(ctx, args[1:], stderr)
	case "token":
		return runToken(ctx, args[1:], stdout, stderr)
	case "hosts":
		return runHosts(ctx, args[1:], stdout, stderr)
	case "reports":
		return runReports(ctx, args[1:], stdout, stderr)
	case "flavors":
		return runPolicies(ctx, flavorsKind, args[1:], stdout, stderr)
	case "templates":
		return runPolicies(ctx, templatesKind, args[1:], stdout, stderr)
	case "groups":
		return runPolicies(ctx, groupsKind, args[1:], stdout, stderr)
	case "loadgen":
		return runLoadgen(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return usageError{fmt.Sprintf("unknown command %q", args[0])}
}
