package channel

import (
	"crypto/ecdh"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"github.com/flynn/noise"
)

// KeySize is the size of a Curve25519 key, private or public.
const KeySize = 32

// PublicKey is a server's static public key. Its text form, for people
// and for TEP_SERVER_KEY, is the standard base64 of its 32 bytes.
type PublicKey [KeySize]byte

// String returns the key in standard base64.
func (p PublicKey) String() string { return base64.StdEncoding.EncodeToString(p[:]) }

// Fingerprint is a short form for log lines and error messages: the first
// 8 bytes of the key's SHA-256, in hex.
func (p PublicKey) Fingerprint() string {
	h := sha256.Sum256(p[:])
	return hex.EncodeToString(h[:8])
}

// ParsePublicKey reads a key in its text form; surrounding white space is
// ignored, so the contents of a file written by `tepd key` parse.
func ParsePublicKey(s string) (PublicKey, error) {
	var p PublicKey
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != KeySize {
		return p, fmt.Errorf("%w: want the standard base64 of %d bytes", ErrBadKey, KeySize)
	}
	copy(p[:], b)
	return p, nil
}

// StaticKey is the server's long-term Curve25519 key pair.
type StaticKey struct {
	private [KeySize]byte
	public  PublicKey
}

// GenerateKey makes a new static key from rand (nil: crypto/rand).
func GenerateKey(rand io.Reader) (*StaticKey, error) {
	kp, err := noise.DH25519.GenerateKeypair(rand)
	if err != nil {
		return nil, fmt.Errorf("generating a static key: %w", err)
	}
	k := &StaticKey{}
	copy(k.private[:], kp.Private)
	copy(k.public[:], kp.Public)
	return k, nil
}

// Public returns the key's public half.
func (k *StaticKey) Public() PublicKey { return k.public }

// MarshalBinary returns the 32-byte private key. The public key follows
// from it.
func (k *StaticKey) MarshalBinary() ([]byte, error) {
	return append([]byte(nil), k.private[:]...), nil
}

// UnmarshalBinary sets k from the 32-byte private key MarshalBinary wrote.
func (k *StaticKey) UnmarshalBinary(b []byte) error {
	if len(b) != KeySize {
		return fmt.Errorf("%w: private key of %d bytes, want %d", ErrBadKey, len(b), KeySize)
	}
	// X25519 clamps inside the scalar multiplication, so any 32 bytes
	// are a private key.
	priv, err := ecdh.X25519().NewPrivateKey(b)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	copy(k.private[:], b)
	copy(k.public[:], priv.PublicKey().Bytes())
	return nil
}

// dhKey is the key pair in the form the noise package takes.
func (k *StaticKey) dhKey() noise.DHKey {
	return noise.DHKey{Private: append([]byte(nil), k.private[:]...), Public: append([]byte(nil), k.public[:]...)}
}
