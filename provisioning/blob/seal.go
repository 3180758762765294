package blob

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
)

// plainMarker opens the plaintext of an aes-mode blob: decrypting it with
// the wrong key shows at the first block.
const plainMarker = "TEPCONFIG/TGZ/v1"

// hkdfInfo separates ecdh mode's content key from any other use of the
// shared secret.
const hkdfInfo = "tep-config ecdh v1"

// Options say how Seal seals. Exactly one of AESKey and DeviceKey is set.
type Options struct {
	// Signer signs the blob: an ECDSA key on P-256 or P-384 (a PEM file's
	// or a PKCS#11 token's).
	Signer crypto.Signer
	// Epoch is the blob's rollback counter value.
	Epoch uint64
	// AESKey selects aes mode: the device's AES key, 16 or 32 bytes.
	AESKey []byte
	// DeviceKey selects ecdh mode: the device's ECDH public key.
	DeviceKey *ecdh.PublicKey
	// Rand is the source of IVs, ephemeral keys and signature nonces;
	// nil means crypto/rand.
	Rand io.Reader
}

// Seal encrypts content (a .tgz) as o says and signs the result.
func Seal(content []byte, o Options) ([]byte, error) {
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	pub, ok := o.Signer.Public().(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("sealing: signing key is %T, want ECDSA P-256 or P-384", o.Signer.Public())
	}
	alg, hash, err := sigAlgOf(pub)
	if err != nil {
		return nil, fmt.Errorf("sealing: %w", err)
	}
	fp, err := Fingerprint(pub)
	if err != nil {
		return nil, fmt.Errorf("sealing: %w", err)
	}
	var mode Mode
	var key, ct []byte
	switch {
	case o.AESKey != nil && o.DeviceKey == nil:
		mode = ModeAES
		key, ct, err = sealAES(content, o)
	case o.DeviceKey != nil && o.AESKey == nil:
		mode = ModeECDH
		key, ct, err = sealECDH(content, o, alg, fp)
	default:
		err = errors.New("give either an AES key or a device key")
	}
	if err != nil {
		return nil, fmt.Errorf("sealing: %w", err)
	}
	out := header(mode, alg, o.Epoch, fp, key, len(ct))
	out = append(out, ct...)
	h := hash.New()
	h.Write(out)
	sig, err := o.Signer.Sign(o.Rand, h.Sum(nil), hash)
	if err != nil {
		return nil, fmt.Errorf("sealing: signing: %w", err)
	}
	if len(sig) < minSig || len(sig) > maxSig {
		return nil, fmt.Errorf("sealing: signer returned a %d-byte signature, not ASN.1 ECDSA", len(sig))
	}
	out = append(out, sig...)
	return append(out, byte(len(sig)>>8), byte(len(sig))), nil
}

func sealAES(content []byte, o Options) (iv, ct []byte, err error) {
	if len(o.AESKey) != 16 && len(o.AESKey) != 32 {
		return nil, nil, fmt.Errorf("AES key of %d bytes, want 16 or 32", len(o.AESKey))
	}
	c, err := aes.NewCipher(o.AESKey)
	if err != nil {
		return nil, nil, err
	}
	iv = make([]byte, IVSize)
	if _, err := io.ReadFull(o.Rand, iv); err != nil {
		return nil, nil, fmt.Errorf("drawing the IV: %w", err)
	}
	ct = make([]byte, len(plainMarker)+len(content))
	copy(ct, plainMarker)
	copy(ct[len(plainMarker):], content)
	cipher.NewCTR(c, iv).XORKeyStream(ct, ct)
	return iv, ct, nil
}

func sealECDH(content []byte, o Options, alg SigAlg, fp [sha256.Size]byte) (point, ct []byte, err error) {
	eph, err := o.DeviceKey.Curve().GenerateKey(o.Rand)
	if err != nil {
		return nil, nil, fmt.Errorf("making the ephemeral key: %w", err)
	}
	z, err := eph.ECDH(o.DeviceKey)
	if err != nil {
		return nil, nil, fmt.Errorf("ECDH with the device key: %w", err)
	}
	point = eph.PublicKey().Bytes()
	aead, err := contentAEAD(z, point)
	if err != nil {
		return nil, nil, err
	}
	aad := header(ModeECDH, alg, o.Epoch, fp, point, len(content)+aead.Overhead())
	return point, aead.Seal(nil, make([]byte, aead.NonceSize()), content, aad), nil
}

// contentAEAD derives ecdh mode's AES-256-GCM key from the shared secret
// z. The key is fresh per blob (a fresh ephemeral key), so the nonce is
// fixed at zero.
func contentAEAD(z, point []byte) (cipher.AEAD, error) {
	k, err := hkdf.Key(sha256.New, z, point, hkdfInfo, 32)
	if err != nil {
		return nil, err
	}
	c, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(c)
}

// Fingerprint is the SHA-256 of pub's DER SubjectPublicKeyInfo, the
// fingerprint that tep-provision status shows.
func Fingerprint(pub crypto.PublicKey) ([sha256.Size]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return [sha256.Size]byte{}, fmt.Errorf("encoding the public key: %w", err)
	}
	return sha256.Sum256(der), nil
}

// sigAlgOf picks the signature algorithm for a signing key's curve.
func sigAlgOf(pub *ecdsa.PublicKey) (SigAlg, crypto.Hash, error) {
	switch pub.Curve {
	case elliptic.P256():
		return SigP256SHA256, crypto.SHA256, nil
	case elliptic.P384():
		return SigP384SHA384, crypto.SHA384, nil
	}
	return 0, 0, fmt.Errorf("signing key on %s, want P-256 or P-384", pub.Curve.Params().Name)
}
