package main

import (
	"context"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"

	"tep.dev/tep/internal/cli"
	"tep.dev/tep/provisioning"
	"tep.dev/tep/provisioning/device"
)

// runDeviceKey is `tep-provision device-key`: an ECDH key made in the
// TPM, its public key printed in PEM.
func runDeviceKey(_ context.Context, args []string, std cli.IO) error {
	stdout, stderr := std.Out, std.Err
	fs := newFlagSet("device-key", "tep-provision device-key [--curve p384|p256] [-o device.pub] [--replace] [--tpm SPEC]", stdout, stderr)
	curveName := fs.String("curve", "p384", "p384 or p256")
	out := fs.String("o", "", "also write the public key (PEM) to this file")
	replace := fs.Bool("replace", false, "make a new key in place of the one there")
	if err := fs.parse(args); err != nil {
		return err
	}
	var curve elliptic.Curve
	switch *curveName {
	case "p384":
		curve = elliptic.P384()
	case "p256":
		curve = elliptic.P256()
	default:
		return cli.Usagef("--curve %q: want p384 or p256", *curveName)
	}
	t, err := fs.open()
	if err != nil {
		return err
	}
	pub, changed, err := device.CreateDeviceKey(t, curve, *replace)
	if cerr := t.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return err
	}
	p := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	if *out != "" {
		if err := os.WriteFile(*out, p, 0o644); err != nil {
			return fmt.Errorf("writing the device key: %w", err)
		}
	}
	what := "made"
	if !changed {
		what = "unchanged, the key already there"
	}
	fmt.Fprintf(stderr, "device key at 0x%08x: %s (ECC %s, SHA256:%x)\n", uint32(provisioning.DeviceKeyHandle), what, pub.Curve.Params().Name, device.Fingerprint(pub))
	_, err = stdout.Write(p)
	return err
}
