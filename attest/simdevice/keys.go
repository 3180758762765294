package simdevice

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/google/go-tpm/tpm2"
)

// Key types for Config.EK and Config.AK.
const (
	KeyRSA2048 = "rsa2048"
	KeyP256    = "p256"
	KeyP384    = "p384"
)

// tpmRHEndorsement is TPM_RH_ENDORSEMENT, whose name is its handle (TPM
// 2.0 Part 2, 7.4).
const tpmRHEndorsement = 0x4000000B

// ekKey is a simulated EK: its private key and TPMT_PUBLIC.
type ekKey struct {
	public tpm2.TPMTPublic
	rsa    *rsa.PrivateKey  // RSA EKs
	ecdh   *ecdh.PrivateKey // ECC EKs
	pub    crypto.PublicKey // for the certificate
	hash   crypto.Hash      // nameAlg's
}

// newEK makes an EK of kind shaped as TCG's EK templates make it: a
// restricted decryption key with AES-CFB, usable only through
// PolicySecret(TPM_RH_ENDORSEMENT) (TCG EK Credential Profile 2.0, B.3.3
// and B.3.4; the P-384 key takes that shape with SHA-384 and AES-256).
func newEK(kind string, r io.Reader) (*ekKey, error) {
	switch kind {
	case KeyRSA2048:
		k, err := rsa.GenerateKey(r, 2048)
		if err != nil {
			return nil, err
		}
		pub := tpm2.RSAEKTemplate
		pub.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: k.N.Bytes()})
		return &ekKey{public: pub, rsa: k, pub: &k.PublicKey, hash: crypto.SHA256}, nil
	case KeyP256, KeyP384:
		curve, hash, nameAlg, bits := elliptic.P256(), crypto.SHA256, tpm2.TPMAlgSHA256, 128
		curveID := tpm2.TPMECCNistP256
		if kind == KeyP384 {
			curve, hash, nameAlg, bits = elliptic.P384(), crypto.SHA384, tpm2.TPMAlgSHA384, 256
			curveID = tpm2.TPMECCNistP384
		}
		k, err := ecdsa.GenerateKey(curve, r)
		if err != nil {
			return nil, err
		}
		dh, err := k.ECDH()
		if err != nil {
			return nil, err
		}
		pub := tpm2.ECCEKTemplate
		pub.NameAlg = nameAlg
		pub.AuthPolicy = tpm2.TPM2BDigest{Buffer: policySecretEndorsement(hash)}
		pub.Parameters = tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
			Symmetric: tpm2.TPMTSymDefObject{
				Algorithm: tpm2.TPMAlgAES,
				KeyBits:   tpm2.NewTPMUSymKeyBits(tpm2.TPMAlgAES, tpm2.TPMKeyBits(bits)),
				Mode:      tpm2.NewTPMUSymMode(tpm2.TPMAlgAES, tpm2.TPMAlgCFB),
			},
			CurveID: curveID,
		})
		if pub.Unique, err = eccPoint(&k.PublicKey); err != nil {
			return nil, err
		}
		return &ekKey{public: pub, ecdh: dh, pub: &k.PublicKey, hash: hash}, nil
	}
	return nil, fmt.Errorf("EK type %q: want %s, %s or %s", kind, KeyRSA2048, KeyP256, KeyP384)
}

// policySecretEndorsement is the policy digest of
// TPM2_PolicySecret(TPM_RH_ENDORSEMENT) with no policyRef under h (TPM
// 2.0 Part 3, 23.4: PolicyUpdate).
func policySecretEndorsement(h crypto.Hash) []byte {
	d := h.New()
	d.Write(make([]byte, h.Size()))
	d.Write(binary.BigEndian.AppendUint32(nil, uint32(tpm2.TPMCCPolicySecret)))
	d.Write(binary.BigEndian.AppendUint32(nil, tpmRHEndorsement))
	first := d.Sum(nil)
	d.Reset()
	d.Write(first)
	return d.Sum(nil)
}

// akKey is a simulated AK: its signer and TPMT_PUBLIC.
type akKey struct {
	public tpm2.TPMTPublic
	signer crypto.Signer
	name   []byte // TPM2B_NAME contents
	// qualifiedName is the AK's qualified name as a primary key of the
	// endorsement hierarchy, where the agent makes it: nameAlg ||
	// H(TPM_RH_ENDORSEMENT || name) (TPM 2.0 Part 1, 16). A quote names
	// its signer by it.
	qualifiedName []byte
}

// akAttributes are an AK's: a restricted signing key that never leaves
// its TPM, as issue 18 and go-attestation require.
var akAttributes = tpm2.TPMAObject{
	FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true,
	UserWithAuth: true, Restricted: true, SignEncrypt: true,
}

// newAK makes an AK of kind (KeyP256: ECDSA with SHA-256; KeyRSA2048:
// RSASSA with SHA-256) and computes its name.
func newAK(kind string, r io.Reader) (*akKey, error) {
	pub := tpm2.TPMTPublic{NameAlg: tpm2.TPMAlgSHA256, ObjectAttributes: akAttributes}
	var signer crypto.Signer
	switch kind {
	case KeyP256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), r)
		if err != nil {
			return nil, err
		}
		pub.Type = tpm2.TPMAlgECC
		pub.Parameters = tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
			Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
			Scheme: tpm2.TPMTECCScheme{
				Scheme:  tpm2.TPMAlgECDSA,
				Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256}),
			},
			CurveID: tpm2.TPMECCNistP256,
			KDF:     tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
		})
		if pub.Unique, err = eccPoint(&k.PublicKey); err != nil {
			return nil, err
		}
		signer = k
	case KeyRSA2048:
		k, err := rsa.GenerateKey(r, 2048)
		if err != nil {
			return nil, err
		}
		pub.Type = tpm2.TPMAlgRSA
		pub.Parameters = tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{
			Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
			Scheme: tpm2.TPMTRSAScheme{
				Scheme:  tpm2.TPMAlgRSASSA,
				Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgRSASSA, &tpm2.TPMSSigSchemeRSASSA{HashAlg: tpm2.TPMAlgSHA256}),
			},
			KeyBits: 2048,
		})
		pub.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: k.N.Bytes()})
		signer = k
	default:
		return nil, fmt.Errorf("AK type %q: want %s or %s", kind, KeyP256, KeyRSA2048)
	}
	name, err := tpm2.ObjectName(&pub)
	if err != nil {
		return nil, err
	}
	d := crypto.SHA256.New()
	d.Write(binary.BigEndian.AppendUint32(nil, tpmRHEndorsement))
	d.Write(name.Buffer)
	qn := d.Sum(binary.BigEndian.AppendUint16(nil, uint16(tpm2.TPMAlgSHA256)))
	return &akKey{public: pub, signer: signer, name: name.Buffer, qualifiedName: qn}, nil
}

// eccPoint is the TPMU_PUBLIC_ID of an ECC key: its coordinates at the
// curve's full size, from the uncompressed point (0x04, X, Y).
func eccPoint(k *ecdsa.PublicKey) (tpm2.TPMUPublicID, error) {
	dh, err := k.ECDH()
	if err != nil {
		return tpm2.TPMUPublicID{}, err
	}
	b := dh.Bytes()[1:]
	return tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
		X: tpm2.TPM2BECCParameter{Buffer: b[:len(b)/2]},
		Y: tpm2.TPM2BECCParameter{Buffer: b[len(b)/2:]},
	}), nil
}
