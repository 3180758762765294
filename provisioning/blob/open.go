package blob

import (
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
)

// Verified is a blob whose signature verified with the policy key.
type Verified struct{ *Blob }

// Verify parses raw and checks that it is signed by pub: the header's
// fingerprint must be pub's (ErrSigner) and the signature must verify
// (ErrSignature). Only then may the blob be decrypted.
func Verify(raw []byte, pub *ecdsa.PublicKey) (*Verified, error) {
	b, err := Parse(raw)
	if err != nil {
		return nil, err
	}
	fp, err := Fingerprint(pub)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(fp[:], b.Signer[:]) != 1 {
		return nil, fmt.Errorf("%w: header names %s, the device's policy key is %s",
			ErrSigner, hex.EncodeToString(b.Signer[:8]), hex.EncodeToString(fp[:8]))
	}
	alg, hash, err := sigAlgOf(pub)
	if err != nil {
		return nil, err
	}
	if alg != b.SigAlg {
		return nil, fmt.Errorf("%w: header says %v, the policy key is for %v", ErrSignature, b.SigAlg, alg)
	}
	h := hash.New()
	h.Write(b.Signed())
	if !ecdsa.VerifyASN1(pub, h.Sum(nil), b.Signature) {
		return nil, ErrSignature
	}
	return &Verified{b}, nil
}

// Decrypter is the device's half of decryption: its AES key in CTR mode,
// or its ECDH key. A TPM does both on the device; tests use software keys.
type Decrypter interface {
	// NewCTR returns the AES-CTR keystream of the device's AES key from
	// iv (the whole block a big-endian counter, as crypto/cipher's). A
	// stream that can fail (a TPM's) reports its first failure from an
	// Err() error method, which Decrypt checks.
	NewCTR(iv []byte) (cipher.Stream, error)
	// ZGen returns the x-coordinate of the device key's secret times peer
	// (TPM 2.0 Part 3, 14.5, TPM2_ECDH_ZGen), as crypto/ecdh's ECDH does.
	ZGen(peer *ecdh.PublicKey) ([]byte, error)
}

// chunk is how much Decrypt hands the Decrypter at a time, between
// progress reports.
const chunk = 1 << 20

// Decrypt decrypts a verified blob's content with d. progress, if not
// nil, is called with the bytes done so far and the total.
func Decrypt(v *Verified, d Decrypter, progress func(done, total int)) ([]byte, error) {
	var out []byte
	var err error
	switch v.Mode {
	case ModeAES:
		out, err = decryptAES(v, d, progress)
	case ModeECDH:
		out, err = decryptECDH(v, d)
	default:
		err = fmt.Errorf("%w: unknown mode %d", ErrFormat, v.Mode)
	}
	if err != nil {
		return nil, fmt.Errorf("decrypting the %v blob: %w", v.Mode, err)
	}
	return out, nil
}

func decryptAES(v *Verified, d Decrypter, progress func(done, total int)) ([]byte, error) {
	s, err := d.NewCTR(v.Key)
	if err != nil {
		return nil, err
	}
	ct := v.Ciphertext
	out := make([]byte, len(ct))
	s.XORKeyStream(out[:len(plainMarker)], ct[:len(plainMarker)])
	if string(out[:len(plainMarker)]) != plainMarker {
		return nil, fmt.Errorf("%w: the first block is not the marker (a blob for another device's AES key?)", ErrDecrypt)
	}
	for done := len(plainMarker); done < len(ct); {
		n := min(chunk, len(ct)-done)
		s.XORKeyStream(out[done:done+n], ct[done:done+n])
		done += n
		if progress != nil {
			progress(done, len(ct))
		}
	}
	if e, ok := s.(interface{ Err() error }); ok && e.Err() != nil {
		return nil, e.Err()
	}
	return out[len(plainMarker):], nil
}

func decryptECDH(v *Verified, d Decrypter) ([]byte, error) {
	curve := ecdh.P256()
	if len(v.Key) == 97 {
		curve = ecdh.P384()
	}
	peer, err := curve.NewPublicKey(v.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: ephemeral key: %v", ErrFormat, err)
	}
	z, err := d.ZGen(peer)
	if err != nil {
		return nil, err
	}
	aead, err := contentAEAD(z, v.Key)
	if err != nil {
		return nil, err
	}
	out, err := aead.Open(nil, make([]byte, aead.NonceSize()), v.Ciphertext, v.aad())
	if err != nil {
		return nil, fmt.Errorf("%w: %v (a blob for another device key?)", ErrDecrypt, err)
	}
	return out, nil
}
