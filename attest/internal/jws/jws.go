// Package jws signs and verifies the verifier's statements (trust
// reports, stored flavors) as JWS in compact serialisation (RFC 7515),
// through go-jose. The "typ" header names what is signed, so that a
// signature over one kind of statement is never accepted as another.
//
// Keys are crypto.Signer (ECDSA P-256/P-384, Ed25519 or RSA, which signs
// with PSS); the algorithm follows from the public key. Functions are
// safe for concurrent use.
package jws

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
)

// ErrSignature is wrapped by every verification failure.
var ErrSignature = errors.New("signature not trusted")

// algorithms are those Verify accepts; never "none", never HMAC.
var algorithms = []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.EdDSA, jose.PS256}

// algorithm is the JWS algorithm for a public key.
func algorithm(pub crypto.PublicKey) (jose.SignatureAlgorithm, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return jose.ES256, nil
		case elliptic.P384():
			return jose.ES384, nil
		}
		return "", fmt.Errorf("ECDSA key on %s: only P-256 and P-384", k.Curve.Params().Name)
	case ed25519.PublicKey:
		return jose.EdDSA, nil
	case *rsa.PublicKey:
		return jose.PS256, nil
	}
	return "", fmt.Errorf("%T keys cannot sign statements", pub)
}

// Sign signs payload with key under the type typ.
func Sign(payload []byte, typ string, key crypto.Signer) (string, error) {
	alg, err := algorithm(key.Public())
	if err != nil {
		return "", err
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: cryptosigner.Opaque(key)},
		(&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
	if err != nil {
		return "", fmt.Errorf("signing %s: %w", typ, err)
	}
	obj, err := s.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("signing %s: %w", typ, err)
	}
	return obj.CompactSerialize()
}

// Verify checks that compact is a JWS of type typ signed by pub and
// returns its payload.
func Verify(compact, typ string, pub crypto.PublicKey) ([]byte, error) {
	want, err := algorithm(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	obj, err := jose.ParseSignedCompact(compact, algorithms)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	h := obj.Signatures[0].Protected
	if got, _ := h.ExtraHeaders[jose.HeaderType].(string); got != typ {
		return nil, fmt.Errorf("%w: type %q, want %q", ErrSignature, got, typ)
	}
	if h.Algorithm != string(want) {
		return nil, fmt.Errorf("%w: algorithm %s for a key that signs with %s", ErrSignature, h.Algorithm, want)
	}
	payload, err := obj.Verify(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	return payload, nil
}
