package quote

import (
	"crypto"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

// ErrAK is returned by ParseAK for a public area that is not an
// attestation key.
var ErrAK = errors.New("not an attestation key")

// AK is an attestation key as the verifier knows it: from the TPMT_PUBLIC
// an agent sent at enrolment.
type AK struct {
	Public tpm2.TPMTPublic
	// Name is the AK's name (nameAlg and the digest of its public area),
	// which MakeCredential binds the credential to.
	Name []byte
	// QualifiedName is the name of the AK as a primary key in the
	// endorsement hierarchy: nameAlg || H(TPM_RH_ENDORSEMENT || Name)
	// (TPM 2.0 Part 1, 16). A quote by it carries this as
	// qualifiedSigner.
	QualifiedName []byte
	// Key is its public key (*rsa.PublicKey or *ecdsa.PublicKey) and
	// Scheme and Hash its signing scheme, fixed by its public area.
	Key    crypto.PublicKey
	Scheme tpm2.TPMAlgID
	Hash   crypto.Hash
}

// ParseAK reads an AK's TPMT_PUBLIC and checks that it is one: a
// restricted signing key (it signs only digests the TPM computed itself,
// TPM 2.0 Part 1, 25.2.4), not a decryption key, fixedTPM, fixedParent
// and sensitiveDataOrigin (its private part was made in this TPM and can
// never leave it), usable with its authValue, with an RSASSA, RSAPSS or
// ECDSA scheme.
func ParseAK(public []byte) (*AK, error) {
	pub, err := tpm2.Unmarshal[tpm2.TPMTPublic](public)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrAK, err)
	}
	a := pub.ObjectAttributes
	switch {
	case !a.Restricted || !a.SignEncrypt || a.Decrypt:
		return nil, fmt.Errorf("%w: not a restricted signing key", ErrAK)
	case !a.FixedTPM || !a.FixedParent || !a.SensitiveDataOrigin:
		return nil, fmt.Errorf("%w: not fixedTPM, fixedParent and sensitiveDataOrigin", ErrAK)
	case !a.UserWithAuth:
		return nil, fmt.Errorf("%w: not userWithAuth", ErrAK)
	}
	ak := &AK{Public: *pub}
	if ak.Scheme, ak.Hash, err = scheme(pub); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrAK, err)
	}
	if ak.Key, err = tpm2.Pub(*pub); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrAK, err)
	}
	name, err := tpm2.ObjectName(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrAK, err)
	}
	ak.Name = name.Buffer
	h, err := pub.NameAlg.Hash()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrAK, err)
	}
	d := h.New()
	d.Write(binary.BigEndian.AppendUint32(nil, uint32(tpm2.TPMRHEndorsement)))
	d.Write(ak.Name)
	ak.QualifiedName = d.Sum(binary.BigEndian.AppendUint16(nil, uint16(pub.NameAlg)))
	return ak, nil
}

// scheme returns an AK's signing scheme and its hash.
func scheme(pub *tpm2.TPMTPublic) (tpm2.TPMAlgID, crypto.Hash, error) {
	var alg tpm2.TPMAlgID
	var hash tpm2.TPMIAlgHash
	switch pub.Type {
	case tpm2.TPMAlgRSA:
		p, err := pub.Parameters.RSADetail()
		if err != nil {
			return 0, 0, err
		}
		alg = p.Scheme.Scheme
		switch alg {
		case tpm2.TPMAlgRSASSA:
			d, err := p.Scheme.Details.RSASSA()
			if err != nil {
				return 0, 0, err
			}
			hash = d.HashAlg
		case tpm2.TPMAlgRSAPSS:
			d, err := p.Scheme.Details.RSAPSS()
			if err != nil {
				return 0, 0, err
			}
			hash = d.HashAlg
		default:
			return 0, 0, fmt.Errorf("RSA scheme %v, want RSASSA or RSAPSS", alg)
		}
	case tpm2.TPMAlgECC:
		p, err := pub.Parameters.ECCDetail()
		if err != nil {
			return 0, 0, err
		}
		if alg = p.Scheme.Scheme; alg != tpm2.TPMAlgECDSA {
			return 0, 0, fmt.Errorf("ECC scheme %v, want ECDSA", alg)
		}
		d, err := p.Scheme.Details.ECDSA()
		if err != nil {
			return 0, 0, err
		}
		hash = d.HashAlg
	default:
		return 0, 0, fmt.Errorf("key type %v", pub.Type)
	}
	h, err := hash.Hash()
	if err != nil {
		return 0, 0, fmt.Errorf("scheme hash: %v", err)
	}
	return alg, h, nil
}
