package quote

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"
	"math/big"

	"github.com/google/go-tpm/tpm2"
)

// signature is a TPMT_SIGNATURE as far as Verify needs it.
type signature struct {
	alg  tpm2.TPMAlgID
	hash crypto.Hash
	rsa  []byte
	r, s *big.Int
}

// parseSignature reads a TPMT_SIGNATURE (TPM 2.0 Part 2, 11.3.4) of the
// RSASSA, RSAPSS or ECDSA scheme.
func parseSignature(b []byte) (*signature, error) {
	sig, err := tpm2.Unmarshal[tpm2.TPMTSignature](b)
	if err != nil {
		return nil, fmt.Errorf("reading signature: %v", err)
	}
	s := &signature{alg: sig.SigAlg}
	var hash tpm2.TPMIAlgHash
	switch sig.SigAlg {
	case tpm2.TPMAlgRSASSA, tpm2.TPMAlgRSAPSS:
		var d *tpm2.TPMSSignatureRSA
		if sig.SigAlg == tpm2.TPMAlgRSASSA {
			d, err = sig.Signature.RSASSA()
		} else {
			d, err = sig.Signature.RSAPSS()
		}
		if err != nil {
			return nil, fmt.Errorf("reading signature: %v", err)
		}
		hash, s.rsa = d.Hash, d.Sig.Buffer
	case tpm2.TPMAlgECDSA:
		d, err := sig.Signature.ECDSA()
		if err != nil {
			return nil, fmt.Errorf("reading signature: %v", err)
		}
		hash = d.Hash
		s.r = new(big.Int).SetBytes(d.SignatureR.Buffer)
		s.s = new(big.Int).SetBytes(d.SignatureS.Buffer)
	default:
		return nil, fmt.Errorf("signature scheme %v", sig.SigAlg)
	}
	if s.hash, err = hash.Hash(); err != nil {
		return nil, fmt.Errorf("signature hash: %v", err)
	}
	return s, nil
}

// verify checks s over digest with key, as the scheme says.
func (s *signature) verify(key crypto.PublicKey, digest []byte) error {
	var err error
	switch k := key.(type) {
	case *rsa.PublicKey:
		if s.alg == tpm2.TPMAlgRSASSA {
			err = rsa.VerifyPKCS1v15(k, s.hash, digest, s.rsa)
		} else {
			// TPMs differ in the salt length they use (Part 1, B.7
			// allows the largest; most use the digest's size), and
			// either is safe to accept.
			err = rsa.VerifyPSS(k, s.hash, digest, s.rsa, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
		}
	case *ecdsa.PublicKey:
		if s.alg != tpm2.TPMAlgECDSA || !ecdsa.Verify(k, digest, s.r, s.s) {
			err = errors.New("ECDSA verification failed")
		}
	default:
		err = fmt.Errorf("key type %T", key)
	}
	if err != nil {
		return fmt.Errorf("the signature is not the AK's: %v", err)
	}
	return nil
}
