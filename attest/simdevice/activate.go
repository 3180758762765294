package simdevice

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rsa"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/credential"
)

// ErrIntegrity is returned by Activate for a credential that was not
// made for this EK and AK, or was changed (a TPM answers
// TPM_RC_INTEGRITY). A credential that is not a tpm2-tools blob at all
// is credential.ErrFormat.
var ErrIntegrity = errors.New("credential integrity check failed")

// Activate answers a credential challenge as TPM2_ActivateCredential
// would (TPM 2.0 Part 3, 12.5; Part 1, 24): it recovers the seed with
// the EK, checks the HMAC over the encrypted identity and the AK's name,
// and decrypts the secret.
func (d *Device) Activate(c attest.Challenge) (attest.Activation, error) {
	blob, err := credential.Parse(c.Credential)
	if err != nil {
		return attest.Activation{}, fmt.Errorf("activating credential: %w", err)
	}
	seed, err := d.ek.seed(blob.EncryptedSecret)
	if err != nil {
		return attest.Activation{}, fmt.Errorf("activating credential: %w: %v", ErrIntegrity, err)
	}
	secret, err := d.ek.openIdentity(seed, blob.IDObject, d.ak.name)
	if err != nil {
		return attest.Activation{}, fmt.Errorf("activating credential: %w", err)
	}
	return attest.Activation{EnrollmentID: c.EnrollmentID, Secret: secret}, nil
}

// sized splits a 16-bit size-prefixed field (a TPM2B) off b.
func sized(b []byte) (field, rest []byte, err error) {
	if len(b) < 2 {
		return nil, nil, errors.New("truncated size")
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b)-2 < n {
		return nil, nil, fmt.Errorf("size %d with %d bytes left", n, len(b)-2)
	}
	return b[2 : 2+n], b[2+n:], nil
}

// seed recovers the credential's seed from the encrypted secret: RSA-OAEP
// with the label "IDENTITY" (its NUL included), or for ECC one-pass
// Diffie-Hellman with the ephemeral point and KDFe (TPM 2.0 Part 1,
// C.6.1 and 11.4.10.3).
func (k *ekKey) seed(encSecret []byte) ([]byte, error) {
	if k.rsa != nil {
		return rsa.DecryptOAEP(k.hash.New(), nil, k.rsa, encSecret, []byte("IDENTITY\x00"))
	}
	point, err := tpm2.Unmarshal[tpm2.TPMSECCPoint](encSecret)
	if err != nil {
		return nil, fmt.Errorf("reading ephemeral point: %v", err)
	}
	size := (len(k.ecdh.PublicKey().Bytes()) - 1) / 2
	x, y := point.X.Buffer, point.Y.Buffer
	if len(x) > size || len(y) > size {
		return nil, errors.New("ephemeral point too large for the curve")
	}
	raw := make([]byte, 1+2*size)
	raw[0] = 4
	copy(raw[1+size-len(x):], x)
	copy(raw[1+2*size-len(y):], y)
	eph, err := k.ecdh.Curve().NewPublicKey(raw)
	if err != nil {
		return nil, fmt.Errorf("ephemeral point: %v", err)
	}
	z, err := k.ecdh.ECDH(eph)
	if err != nil {
		return nil, err
	}
	ekX := k.ecdh.PublicKey().Bytes()[1 : 1+size]
	return tpm2.KDFe(k.hash, z, "IDENTITY", x, ekX, k.hash.Size()*8), nil
}

// openIdentity checks the ID object's HMAC (key KDFa(seed, "INTEGRITY"),
// over the encrypted identity and name) and decrypts the identity (AES-
// CFB, zero IV, key KDFa(seed, "STORAGE", name)) into the secret, a
// TPM2B_DIGEST (TPM 2.0 Part 1, 24.4 and 24.5).
func (k *ekKey) openIdentity(seed, idObject, name []byte) ([]byte, error) {
	mac, encIdentity, err := sized(idObject)
	if err != nil {
		return nil, fmt.Errorf("%w: ID object: %v", credential.ErrFormat, err)
	}
	m := hmac.New(k.hash.New, tpm2.KDFa(k.hash, seed, "INTEGRITY", nil, nil, k.hash.Size()*8))
	m.Write(encIdentity)
	m.Write(name)
	if !hmac.Equal(m.Sum(nil), mac) {
		return nil, ErrIntegrity
	}
	sym, err := k.symmetricBits()
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(tpm2.KDFa(k.hash, seed, "STORAGE", name, nil, sym))
	if err != nil {
		return nil, err
	}
	plain := make([]byte, len(encIdentity))
	//lint:ignore SA1019 the TPM's credential protection is AES-CFB (TPM 2.0 Part 1, 24.4)
	cipher.NewCFBDecrypter(block, make([]byte, aes.BlockSize)).XORKeyStream(plain, encIdentity)
	secret, rest, err := sized(plain)
	if err != nil || len(rest) != 0 || len(secret) > maxDigest {
		return nil, fmt.Errorf("%w: decrypted identity is not a TPM2B_DIGEST", ErrIntegrity)
	}
	return secret, nil
}

// symmetricBits is the EK's AES key size.
func (k *ekKey) symmetricBits() (int, error) {
	var sym *tpm2.TPMTSymDefObject
	if k.rsa != nil {
		p, err := k.public.Parameters.RSADetail()
		if err != nil {
			return 0, err
		}
		sym = &p.Symmetric
	} else {
		p, err := k.public.Parameters.ECCDetail()
		if err != nil {
			return 0, err
		}
		sym = &p.Symmetric
	}
	bits, err := sym.KeyBits.AES()
	if err != nil {
		return 0, err
	}
	return int(*bits), nil
}
