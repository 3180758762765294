package signer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// ErrUnsupportedKey reports a key of a type that cannot sign here.
var ErrUnsupportedKey = errors.New("unsupported key type")

// Load opens the signing key that ref names: a "pkcs11:" URI or the path
// of a PEM file holding a PKCS#8, SEC 1 (EC) or PKCS#1 (RSA) private key.
// The Closer releases the token session (a no-op for a file); the Signer
// must not be used after it.
func Load(ref string) (crypto.Signer, io.Closer, error) {
	if strings.HasPrefix(ref, "pkcs11:") {
		u, err := ParseURI(ref)
		if err != nil {
			return nil, nil, err
		}
		s, err := openToken(u)
		if err != nil {
			return nil, nil, err
		}
		return s, s, nil
	}
	b, err := os.ReadFile(ref)
	if err != nil {
		return nil, nil, fmt.Errorf("reading signing key: %w", err)
	}
	s, err := ParsePEM(b)
	if err != nil {
		return nil, nil, fmt.Errorf("signing key %s: %w", ref, err)
	}
	return s, io.NopCloser(nil), nil
}

// ParsePEM returns the private key in the first PEM block of b that holds
// one.
func ParsePEM(b []byte) (crypto.Signer, error) {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, errors.New("no PEM private key found")
		}
		var key any
		var err error
		switch blk.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(blk.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("the PEM key is encrypted: decrypt it first (openssl pkey) or keep it in a PKCS#11 token")
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("parsing %s: %w", blk.Type, err)
		}
		switch k := key.(type) {
		case *ecdsa.PrivateKey, *rsa.PrivateKey, ed25519.PrivateKey:
			return k.(crypto.Signer), nil
		default:
			return nil, fmt.Errorf("%w: %T", ErrUnsupportedKey, key)
		}
	}
}
