package main

import (
	"context"
	"crypto/ecdh"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"tep.dev/tep/internal/cli"
	"tep.dev/tep/provisioning/blob"
	"tep.dev/tep/provisioning/config"
	"tep.dev/tep/provisioning/device"
	"tep.dev/tep/provisioning/signer"
)

func runSeal(_ context.Context, args []string, std cli.IO) error {
	stdin, stdout, stderr := std.In, std.Out, std.Err
	fs := flag.NewFlagSet("tep-config seal", flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := fs.String("in", "", "the configuration `directory` or .tgz file")
	signKey := fs.String("sign-key", "", "the signing `key`: a PEM private key file or a pkcs11: URI")
	aesKey := fs.String("aes-key", "", "aes mode: the device's raw AES key `file` (- for stdin)")
	to := fs.String("to", "", "ecdh mode: the device's public key `file` (PEM), from tep-provision device-key")
	epoch := fs.Uint64("epoch", 0, "the blob's epoch: above the last one the device applied")
	out := fs.String("o", "", "the blob `file` to write")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case *in == "" || *signKey == "" || *out == "" || *epoch == 0:
		return errors.New("seal needs --in, --sign-key, --epoch (above 0) and -o")
	case (*aesKey == "") == (*to == ""):
		return errors.New("seal needs one of --aes-key (aes mode) and --to (ecdh mode)")
	}
	content, err := config.ReadContent(*in)
	if err != nil {
		return err
	}
	key, closer, err := signer.Load(*signKey)
	if err != nil {
		return fmt.Errorf("loading the signing key: %w", err)
	}
	defer closer.Close()
	o := blob.Options{Signer: key, Epoch: *epoch}
	if *aesKey != "" {
		if o.AESKey, err = readAESKey(*aesKey, stdin, stderr); err != nil {
			return err
		}
		defer clear(o.AESKey)
	} else {
		if o.DeviceKey, err = readDeviceKey(*to); err != nil {
			return err
		}
	}
	b, err := blob.Seal(content, o)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		return err
	}
	mode := blob.ModeAES
	if o.DeviceKey != nil {
		mode = blob.ModeECDH
	}
	fmt.Fprintf(stdout, "sealed %s (%d bytes of .tgz) as %s: %v mode, epoch %d, %d bytes\n", *in, len(content), *out, mode, *epoch, len(b))
	return nil
}

// readAESKey reads the AES key with the device package's reader, which
// tep-provision uses too, and passes on its warning.
func readAESKey(name string, stdin io.Reader, stderr io.Writer) ([]byte, error) {
	key, warning, err := device.ReadAESKey(name, stdin)
	if warning != "" {
		fmt.Fprintln(stderr, "tep-config: warning:", warning)
	}
	return key, err
}

func readDeviceKey(name string) (*ecdh.PublicKey, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	return config.ParseDeviceKey(b)
}
