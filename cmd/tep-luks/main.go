// Command tep-luks keeps the trusted VM's LUKS passphrase sealed in the
// TPM under a PCR policy that the operator signs (docs/luks.md).
//
//	tep-luks sign   --pcr-values FILE --bank sha256|sha384 [--pcrs 0,7,10] --key PEM|pkcs11:URI --device DEV [--epoch N] [--format tep|systemd] -o FILE
//	tep-luks setup  [--tpm SPEC] [--config FILE] [--state DIR] [--reformat-destroys-data [--yes]] [--json]
//	tep-luks unlock [--tpm SPEC] [--config FILE] [--state DIR] [--json]
//	tep-luks status [--tpm SPEC] [--config FILE] [--json]
//	tep-luks revoke [--tpm SPEC] [--config FILE] [--json]
//
// sign is the admin side and needs no TPM. The others run on the device,
// as root; SPEC is "sim", "swtpm:HOST:PORT", "swtpm:unix:PATH" or a device
// such as /dev/tpmrm0 (the default).
//
// Exit status: 0 done; 1 any other failure; 2 bad usage; 3 the
// configuration is invalid or not signed by this device's policy key; 4
// PCRs moved; 5 the configuration's epoch is revoked; 6 the partition
// holds a LUKS volume that the sealed passphrase does not open, or other
// data (nothing was formatted), or a destructive step was not confirmed.
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

	"tep.dev/tep/provisioning/luks"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tep-luks:", err)
		os.Exit(exitCode(err))
	}
}

const usage = `usage:
  tep-luks sign   --pcr-values FILE --bank sha256|sha384 [--pcrs 0,7,10] --key PEM|pkcs11:URI --device DEV [--epoch N] [--format tep|systemd] -o FILE
  tep-luks setup  [--tpm SPEC] [--config FILE] [--state DIR] [--reformat-destroys-data [--yes]] [--json]
  tep-luks unlock [--tpm SPEC] [--config FILE] [--state DIR] [--json]
  tep-luks status [--tpm SPEC] [--config FILE] [--json]
  tep-luks revoke [--tpm SPEC] [--config FILE] [--json]`

// errUsage marks a command line that cannot run.
var errUsage = errors.New("usage")

// exitCode is the one place where errors become exit statuses.
func exitCode(err error) int {
	switch {
	case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
		return 2
	case errors.Is(err, luks.ErrConfig), errors.Is(err, luks.ErrSignature):
		return 3
	case errors.Is(err, luks.ErrPCRMismatch):
		return 4
	case errors.Is(err, luks.ErrRevoked):
		return 5
	case errors.Is(err, luks.ErrForeignLUKS), errors.Is(err, luks.ErrInUse), errors.Is(err, luks.ErrNotConfirmed):
		return 6
	}
	return 1
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w\n%s", errUsage, usage)
	}
	switch args[0] {
	case "sign":
		return runSign(args[1:], stdout, stderr)
	case "setup", "unlock", "status", "revoke":
		return runDevice(ctx, args[0], args[1:], stdin, stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("%w: unknown command %q\n%s", errUsage, args[0], usage)
}
