package config

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"

	"tep.dev/tep/provisioning/archive"
)

// ReadContent returns what a blob carries from in: a directory, packed
// as a .tgz, or a .tgz file as it is.
func ReadContent(in string) ([]byte, error) {
	fi, err := os.Stat(in)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return os.ReadFile(in)
	}
	var buf bytes.Buffer
	if err := archive.Pack(in, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ParseDeviceKey parses a device's ECDH public key, as tep-provision
// device-key prints it: a PEM "PUBLIC KEY" (SubjectPublicKeyInfo) on
// P-256 or P-384.
func ParseDeviceKey(b []byte) (*ecdh.PublicKey, error) {
	p, _ := pem.Decode(b)
	if p == nil || p.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("the device key is not a PEM PUBLIC KEY")
	}
	pub, err := x509.ParsePKIXPublicKey(p.Bytes)
	if err != nil {
		return nil, fmt.Errorf("the device key: %w", err)
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("the device key is %T, want an EC key", pub)
	}
	return ec.ECDH()
}
