// Command tep-provision provisions a device's TPM for TEP: the operator's
// policy-signing public key in NV, the configuration AES key and the
// device's ECDH key at persistent handles (docs/provisioning.md).
//
//	tep-provision device --policy-key pub.pem --aes-key key.bin|- [--profile auto|ptt|dtpm] [--replace] [--shred] [--tpm SPEC]
//	tep-provision status [--json] [--tpm SPEC]
//	tep-provision clear [--all] [--yes] [--tpm SPEC]
//	tep-provision device-key [--curve p384|p256] [-o device.pub] [--replace] [--tpm SPEC]
//
// SPEC is /dev/tpmrm0 (the default), "swtpm:HOST:PORT", "swtpm:unix:PATH"
// or "sim" (the embedded simulator, which keeps nothing between runs).
// Exit status: 0 done, 1 error, 2 usage. The work is done by package
// provisioning/device; this command reads flags and files and prints.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
)

func main() {
	err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tep-provision:", err)
	}
	os.Exit(exitCode(err))
}

const usage = `usage:
  tep-provision device --policy-key pub.pem --aes-key key.bin|- [--profile auto|ptt|dtpm] [--replace] [--shred] [--tpm SPEC]
  tep-provision status [--json] [--tpm SPEC]
  tep-provision clear [--all] [--yes] [--tpm SPEC]
  tep-provision device-key [--curve p384|p256] [-o device.pub] [--replace] [--tpm SPEC]
SPEC: /dev/tpmrm0 (default), swtpm:HOST:PORT, swtpm:unix:PATH or sim`

// defaultTPM is the kernel's TPM resource manager, as for tepd.
const defaultTPM = "/dev/tpmrm0"

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg + "\n" + usage }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// exitCode maps run's error to the exit status: 0, 1, or 2 for usage.
func exitCode(err error) int {
	var u *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &u):
		return 2
	}
	return 1
}

// run runs the command line args (without the program name).
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	err := dispatch(args, stdin, stdout, stderr)
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

func dispatch(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("no command")
	}
	switch args[0] {
	case "device":
		return runDevice(args[1:], stdin, stdout, stderr)
	case "status":
		return runStatus(args[1:], stdout, stderr)
	case "clear":
		return runClear(args[1:], stdin, stdout, stderr)
	case "device-key":
		return runDeviceKey(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return usagef("unknown command %q", args[0])
}
