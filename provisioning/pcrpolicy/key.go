package pcrpolicy

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"fmt"
	"io"
	"math/big"

	"github.com/google/go-tpm/tpm2"
)

// KeyPublic is the public area under which a device loads the signing
// key (TPM2_LoadExternal, public part only): nameAlg SHA-256, attributes
// sign|decrypt|userWithAuth, no scheme, no symmetric algorithm, ECC
// coordinates left-padded to the curve's size (48 bytes for P-384), or an
// RSA modulus with the default exponent written as 0. These are the
// choices tpm2_loadexternal makes for a PEM public key, so both give the
// key the same name.
func KeyPublic(pub crypto.PublicKey) (tpm2.TPMTPublic, error) {
	attrs := tpm2.TPMAObject{SignEncrypt: true, Decrypt: true, UserWithAuth: true}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		curve, size, err := curveOf(k.Curve)
		if err != nil {
			return tpm2.TPMTPublic{}, err
		}
		x, y, err := coordinates(k, size)
		if err != nil {
			return tpm2.TPMTPublic{}, err
		}
		return tpm2.TPMTPublic{
			Type: tpm2.TPMAlgECC, NameAlg: tpm2.TPMAlgSHA256, ObjectAttributes: attrs,
			Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
				Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
				Scheme:    tpm2.TPMTECCScheme{Scheme: tpm2.TPMAlgNull},
				CurveID:   curve,
				KDF:       tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
			}),
			Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
				X: tpm2.TPM2BECCParameter{Buffer: x},
				Y: tpm2.TPM2BECCParameter{Buffer: y},
			}),
		}, nil
	case *rsa.PublicKey:
		bits := k.N.BitLen()
		if bits < 2048 || bits > 4096 || bits%1024 != 0 {
			return tpm2.TPMTPublic{}, fmt.Errorf("%w: RSA key of %d bits", ErrKeyType, bits)
		}
		exp := uint32(k.E)
		if k.E == 65537 {
			exp = 0
		}
		return tpm2.TPMTPublic{
			Type: tpm2.TPMAlgRSA, NameAlg: tpm2.TPMAlgSHA256, ObjectAttributes: attrs,
			Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{
				Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
				Scheme:    tpm2.TPMTRSAScheme{Scheme: tpm2.TPMAlgNull},
				KeyBits:   tpm2.TPMKeyBits(bits),
				Exponent:  exp,
			}),
			Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: k.N.Bytes()}),
		}, nil
	}
	return tpm2.TPMTPublic{}, fmt.Errorf("%w: %T", ErrKeyType, pub)
}

func curveOf(c elliptic.Curve) (tpm2.TPMECCCurve, int, error) {
	switch c {
	case elliptic.P256():
		return tpm2.TPMECCNistP256, 32, nil
	case elliptic.P384():
		return tpm2.TPMECCNistP384, 48, nil
	}
	return 0, 0, fmt.Errorf("%w: curve %s", ErrKeyType, c.Params().Name)
}

// coordinates returns the key's X and Y left-padded to size bytes: a
// coordinate with leading zero bytes must not come out shorter, or the
// key's name (and every policy that names it) differs from the TPM's.
func coordinates(k *ecdsa.PublicKey, size int) (x, y []byte, err error) {
	b, err := k.Bytes() // 0x04 || X || Y, each padded to the curve size
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrKeyType, err)
	}
	if len(b) != 1+2*size {
		return nil, nil, fmt.Errorf("%w: point of %d bytes", ErrKeyType, len(b))
	}
	return b[1 : 1+size], b[1+size:], nil
}

// KeyName is the TPM name of pub loaded as KeyPublic describes:
// TPM_ALG_SHA256, then SHA-256 of the marshalled public area.
func KeyName(pub crypto.PublicKey) ([]byte, error) {
	area, err := KeyPublic(pub)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(tpm2.Marshal(area))
	return append(binary.BigEndian.AppendUint16(nil, uint16(tpm2.TPMAlgSHA256)), sum[:]...), nil
}

// Fingerprint is SHA-256 of the key's DER SubjectPublicKeyInfo, as
// tep-provision prints it.
func Fingerprint(pub crypto.PublicKey) ([32]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return [32]byte{}, fmt.Errorf("%w: %v", ErrKeyType, err)
	}
	return sha256.Sum256(der), nil
}

// Sign signs the approved policy with s: ECDSA (ASN.1 DER) or RSASSA
// PKCS#1 v1.5, over AHash(approved) as a SHA-256 digest. rnd may be nil
// (crypto/rand).
func Sign(s crypto.Signer, rnd io.Reader, approved []byte) ([]byte, error) {
	if _, err := KeyPublic(s.Public()); err != nil {
		return nil, err
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	sig, err := s.Sign(rnd, AHash(approved), crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("signing the approved policy: %w", err)
	}
	return sig, nil
}

// Verify checks sig (as Sign makes it) over approved with pub, in
// software.
func Verify(pub crypto.PublicKey, approved, sig []byte) error {
	digest := AHash(approved)
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, digest, sig) {
			return ErrBadSignature
		}
		return nil
	case *rsa.PublicKey:
		if rsa.VerifyPKCS1v15(k, crypto.SHA256, digest, sig) != nil {
			return ErrBadSignature
		}
		return nil
	}
	return fmt.Errorf("%w: %T", ErrKeyType, pub)
}

// TPMSignature converts sig (as Sign makes it) into the TPMT_SIGNATURE
// that TPM2_VerifySignature takes: ECDSA or RSASSA with SHA-256.
func TPMSignature(pub crypto.PublicKey, sig []byte) (tpm2.TPMTSignature, error) {
	switch pub.(type) {
	case *ecdsa.PublicKey:
		var rs struct{ R, S *big.Int }
		rest, err := asn1.Unmarshal(sig, &rs)
		if err != nil || len(rest) != 0 || rs.R == nil || rs.S == nil || rs.R.Sign() <= 0 || rs.S.Sign() <= 0 {
			return tpm2.TPMTSignature{}, fmt.Errorf("%w: not an ECDSA signature", ErrBadSignature)
		}
		return tpm2.TPMTSignature{
			SigAlg: tpm2.TPMAlgECDSA,
			Signature: tpm2.NewTPMUSignature(tpm2.TPMAlgECDSA, &tpm2.TPMSSignatureECC{
				Hash:       tpm2.TPMAlgSHA256,
				SignatureR: tpm2.TPM2BECCParameter{Buffer: rs.R.Bytes()},
				SignatureS: tpm2.TPM2BECCParameter{Buffer: rs.S.Bytes()},
			}),
		}, nil
	case *rsa.PublicKey:
		return tpm2.TPMTSignature{
			SigAlg: tpm2.TPMAlgRSASSA,
			Signature: tpm2.NewTPMUSignature(tpm2.TPMAlgRSASSA, &tpm2.TPMSSignatureRSA{
				Hash: tpm2.TPMAlgSHA256,
				Sig:  tpm2.TPM2BPublicKeyRSA{Buffer: sig},
			}),
		}, nil
	}
	return tpm2.TPMTSignature{}, fmt.Errorf("%w: %T", ErrKeyType, pub)
}
