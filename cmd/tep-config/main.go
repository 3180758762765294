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
	"fmt"
	"io"
	"os"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "tep-config:", err)
		os.Exit(1)
	}
}

const usage = `usage:
  tep-config seal --in DIR|FILE.tgz --sign-key KEY.pem|pkcs11:URI (--aes-key FILE | --to DEVICE.pub) --epoch N -o FILE
  tep-config apply    [--blob FILE] [--dest DIR] [--settings FILE] [--tpm SPEC] [--json]
  tep-config rollback [--dest DIR] [--settings FILE] [--json]
  tep-config status   [--blob FILE] [--dest DIR] [--tpm SPEC] [--json]`

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%s", usage)
	}
	switch args[0] {
	case "seal":
		return runSeal(args[1:], stdin, stdout, stderr)
	case "apply":
		return runApply(args[1:], stdout, stderr)
	case "rollback":
		return runRollback(args[1:], stdout, stderr)
	case "status":
		return runStatus(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usage)
}
