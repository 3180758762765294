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
	"io"
	"os"

	"tep.dev/tep/internal/cli"
)

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

const usage = `usage:
  tep-provision device --policy-key pub.pem --aes-key key.bin|- [--profile auto|ptt|dtpm] [--replace] [--shred] [--tpm SPEC]
  tep-provision status [--json] [--tpm SPEC]
  tep-provision clear [--all] [--yes] [--tpm SPEC]
  tep-provision device-key [--curve p384|p256] [-o device.pub] [--replace] [--tpm SPEC]
SPEC: /dev/tpmrm0 (default), swtpm:HOST:PORT, swtpm:unix:PATH or sim`

// defaultTPM is the kernel's TPM resource manager, as for tepd.
const defaultTPM = "/dev/tpmrm0"

var program = &cli.Program{
	Name: "tep-provision", Usage: usage,
	Commands: []cli.Command{
		{Name: "device", Run: runDevice},
		{Name: "status", Run: runStatus},
		{Name: "clear", Run: runClear},
		{Name: "device-key", Run: runDeviceKey},
	},
}

// run runs the command line args (without the program's name) and
// returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return program.Main(args, cli.IO{In: stdin, Out: stdout, Err: stderr})
}
