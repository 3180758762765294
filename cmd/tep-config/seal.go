package main

import (
	"crypto"
	"crypto/ecdh"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"tep.dev/tep/provisioning/blob"
	"tep.dev/tep/provisioning/config"
)

func runSeal(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
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
	signer, closer, err := loadSigner(*signKey)
	if err != nil {
		return fmt.Errorf("loading the signing key: %w", err)
	}
	defer closer.Close()
	o := blob.Options{Signer: signer, Epoch: *epoch}
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

func readAESKey(name string, stdin io.Reader, stderr io.Writer) ([]byte, error) {
	if name == "-" {
		return config.ReadAESKey(stdin)
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(stderr, "tep-config: warning: %s is readable by others (mode %v)\n", name, fi.Mode().Perm())
	}
	return config.ReadAESKey(f)
}

func readDeviceKey(name string) (*ecdh.PublicKey, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	return config.ParseDeviceKey(b)
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

// loadSigner loads a PEM private key file. pkcs11: URIs go through
// provisioning/signer.
func loadSigner(ref string) (crypto.Signer, io.Closer, error) {
	if strings.HasPrefix(ref, "pkcs11:") {
		return nil, nil, errors.New("pkcs11: URIs need provisioning/signer")
	}
	b, err := os.ReadFile(ref)
	if err != nil {
		return nil, nil, err
	}
	p, _ := pem.Decode(b)
	if p == nil {
		return nil, nil, fmt.Errorf("%s holds no PEM block", ref)
	}
	var k any
	switch p.Type {
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(p.Bytes)
	default:
		k, err = x509.ParsePKCS8PrivateKey(p.Bytes)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", ref, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("%s: %T is no signer", ref, k)
	}
	return s, nopCloser{}, nil
}
