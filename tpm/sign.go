package tpm

import (
	"crypto"
	"crypto/rsa"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// Sign signs digest, a hash already computed by the caller, with key k
// (TPM2_Sign, TPM 2.0 Part 3, 20.2) authorized by auth. The scheme follows
// the key and opts, as for a crypto.Signer:
//
//   - RSA key, opts a crypto.Hash: RSASSA-PKCS1-v1_5, the signature as wide
//     as the modulus;
//   - RSA key, opts an *rsa.PSSOptions: RSASSA-PSS with MGF1 on the same
//     hash and a salt as long as the digest (the TPM's choice, Part 1,
//     B.7); SaltLength must be PSSSaltLengthAuto, PSSSaltLengthEqualsHash
//     or the digest's length;
//   - ECC key: ECDSA, the signature as r||s, each as wide as the curve's
//     order (PKCS#11's format, not crypto.Signer's ASN.1).
//
// len(digest) must be opts.HashFunc().Size(). A wrong auth gives an error
// matching ErrAuthFail; a key without the sign attribute, ErrUsage.
func (t *TPM) Sign(k KeyBlob, auth, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := t.sign(k, auth, digest, opts)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	return sig, nil
}

func (t *TPM) sign(k KeyBlob, auth, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	pk, err := t.parseKey(k)
	if err != nil {
		return nil, err
	}
	scheme, err := sigScheme(pk.area.Type, digest, opts)
	if err != nil {
		return nil, err
	}
	if err := pk.check("signing", pk.area.Type, false); err != nil {
		return nil, err
	}
	var sig *tpm2.TPMTSignature
	err = t.useKey(pk, auth, encNone, func(l locked, key tpm2.AuthHandle) error {
		sig, err = SignDigest(l, key, scheme, digest)
		return err
	})
	if err != nil {
		return nil, err
	}
	return encodeSignature(pk.area, sig)
}

// SignDigest runs TPM2_Sign (TPM 2.0 Part 3, 20.2) on tr with the loaded
// key, marshalled by hand (see execAuth): the digest, the scheme, and a
// null ticket (the digest is not of a message the TPM hashed). For code
// that sends its own commands within [TPM.Do].
func SignDigest(tr transport.TPM, key tpm2.AuthHandle, scheme tpm2.TPMTSigScheme, digest []byte) (*tpm2.TPMTSignature, error) {
	parms := append2B(nil, digest)
	parms = append(parms, tpm2.Marshal(scheme)...)
	parms = binary.BigEndian.AppendUint16(parms, uint16(tpm2.TPMSTHashCheck))
	parms = binary.BigEndian.AppendUint32(parms, uint32(tpm2.TPMRHNull))
	parms = append2B(parms, nil)
	rparms, err := execAuth(tr, tpm2.TPMCCSign, key, parms)
	if err != nil {
		return nil, err
	}
	return parseSignature(rparms)
}

// sigScheme returns the TPM signature scheme for a key of type typ and
// the caller's opts.
func sigScheme(typ tpm2.TPMAlgID, digest []byte, opts crypto.SignerOpts) (tpm2.TPMTSigScheme, error) {
	if opts == nil {
		return tpm2.TPMTSigScheme{}, errors.New("no hash given")
	}
	h := opts.HashFunc()
	if h == 0 {
		return tpm2.TPMTSigScheme{}, fmt.Errorf("%w: signing without a hash (a raw PKCS#1 block)", ErrUnsupported)
	}
	alg, err := hashAlg(h)
	if err != nil {
		return tpm2.TPMTSigScheme{}, err
	}
	if len(digest) != h.Size() {
		return tpm2.TPMTSigScheme{}, fmt.Errorf("digest of %d bytes for %v, want %d", len(digest), h, h.Size())
	}
	hash := tpm2.TPMSSchemeHash{HashAlg: alg}
	pss, isPSS := opts.(*rsa.PSSOptions)
	switch {
	case typ == tpm2.TPMAlgECC:
		return tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgECDSA, Details: tpm2.NewTPMUSigScheme(tpm2.TPMAlgECDSA, &hash)}, nil
	case typ == tpm2.TPMAlgRSA && isPSS:
		switch pss.SaltLength {
		case rsa.PSSSaltLengthAuto, rsa.PSSSaltLengthEqualsHash, h.Size():
		default:
			return tpm2.TPMTSigScheme{}, fmt.Errorf("%w: PSS salt of %d bytes (the TPM's is %d)", ErrUnsupported, pss.SaltLength, h.Size())
		}
		return tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgRSAPSS, Details: tpm2.NewTPMUSigScheme(tpm2.TPMAlgRSAPSS, &hash)}, nil
	case typ == tpm2.TPMAlgRSA:
		return tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgRSASSA, Details: tpm2.NewTPMUSigScheme(tpm2.TPMAlgRSASSA, &hash)}, nil
	}
	return tpm2.TPMTSigScheme{}, fmt.Errorf("%w: signing needs an RSA or ECC key", ErrUsage)
}

// encodeSignature returns the signature in its standard encoding: RSA as
// is, ECDSA as r||s.
func encodeSignature(area *tpm2.TPMTPublic, sig *tpm2.TPMTSignature) ([]byte, error) {
	switch sig.SigAlg {
	case tpm2.TPMAlgRSASSA, tpm2.TPMAlgRSAPSS:
		var s *tpm2.TPMSSignatureRSA
		var err error
		if sig.SigAlg == tpm2.TPMAlgRSASSA {
			s, err = sig.Signature.RSASSA()
		} else {
			s, err = sig.Signature.RSAPSS()
		}
		if err != nil {
			return nil, err
		}
		return s.Sig.Buffer, nil
	case tpm2.TPMAlgECDSA:
		s, err := sig.Signature.ECDSA()
		if err != nil {
			return nil, err
		}
		parms, err := area.Parameters.ECCDetail()
		if err != nil {
			return nil, err
		}
		c, err := curveOf(parms.CurveID)
		if err != nil {
			return nil, err
		}
		n := (c.Params().N.BitLen() + 7) / 8
		r, sv := s.SignatureR.Buffer, s.SignatureS.Buffer
		if len(r) > n || len(sv) > n {
			return nil, errors.New("TPM returned an oversized ECDSA signature")
		}
		out := make([]byte, 2*n)
		copy(out[n-len(r):], r)
		copy(out[2*n-len(sv):], sv)
		return out, nil
	}
	return nil, fmt.Errorf("TPM returned a signature of scheme 0x%04x", uint16(sig.SigAlg))
}

// RSADecrypt decrypts ciphertext with RSA key k (TPM2_RSA_Decrypt, Part 3,
// 14.3) authorized by auth: RSAES-PKCS1-v1_5 when oaep is nil (PKCS#11's
// CKM_RSA_PKCS), else OAEP. The TPM removes OAEP padding itself only with
// MGF1 on the OAEP hash and labels that are empty or end in a zero byte
// (Part 3, 14.3: TPM_RC_VALUE otherwise); for any other parameters it
// decrypts raw and the padding is checked here, in constant time. The
// plaintext comes back encrypted by the session. A ciphertext whose padding does not
// check gives ErrDecrypt, with the TPM's code: TPM_RC_VALUE from the
// reference TPM, TPM_RC_FAILURE from libtpms (swtpm), which does not stay
// in failure mode after it.
func (t *TPM) RSADecrypt(k KeyBlob, auth, ciphertext []byte, oaep *rsa.OAEPOptions) ([]byte, error) {
	out, err := t.rsaDecrypt(k, auth, ciphertext, oaep)
	if err != nil {
		return nil, fmt.Errorf("decrypting: %w", err)
	}
	return out, nil
}

func (t *TPM) rsaDecrypt(k KeyBlob, auth, ciphertext []byte, oaep *rsa.OAEPOptions) ([]byte, error) {
	pk, err := t.parseKey(k)
	if err != nil {
		return nil, err
	}
	if err := pk.check("RSA decryption", tpm2.TPMAlgRSA, true); err != nil {
		return nil, err
	}
	scheme, label, err := rsaScheme(oaep)
	if err != nil {
		return nil, err
	}
	var out []byte
	err = t.useKey(pk, auth, encOut, func(l locked, key tpm2.AuthHandle) error {
		rsp, err := tpm2.RSADecrypt{
			KeyHandle:  key,
			CipherText: tpm2.TPM2BPublicKeyRSA{Buffer: ciphertext},
			InScheme:   scheme,
			Label:      tpm2.TPM2BData{Buffer: label},
		}.Execute(l)
		// TPM_RC_SIZE: the ciphertext is not below the modulus.
		if errors.Is(err, tpm2.TPMRCValue) || errors.Is(err, tpm2.TPMRCFailure) || errors.Is(err, tpm2.TPMRCSize) {
			return fmt.Errorf("%w: %w", ErrDecrypt, err)
		}
		if err != nil {
			return err
		}
		out = rsp.Message.Buffer
		return nil
	})
	if err != nil || scheme.Scheme != tpm2.TPMAlgNull {
		return out, err
	}
	// A raw RSADP result: put back the leading zeros the TPM may have
	// dropped, then take the OAEP padding off here.
	rsaParms, err := pk.area.Parameters.RSADetail()
	if err != nil {
		return nil, err
	}
	em := make([]byte, int(rsaParms.KeyBits)/8)
	if len(out) > len(em) {
		return nil, fmt.Errorf("TPM returned %d bytes for a %d-bit key", len(out), rsaParms.KeyBits)
	}
	copy(em[len(em)-len(out):], out)
	clear(out)
	msg, err := decodeOAEP(oaep, em)
	clear(em[:len(em)-len(msg)])
	return msg, err
}

// maxLabel is the largest TPM2B_DATA: a TPMT_HA with a SHA-512 digest.
const maxLabel = 2 + 64

// rsaScheme is the TPM's scheme and label for a decryption with oaep
// (nil: PKCS #1 v1.5). OAEP the TPM cannot check itself (see tpmOAEP) is
// asked for as a raw decryption (TPM_ALG_NULL), to be decoded here.
func rsaScheme(o *rsa.OAEPOptions) (tpm2.TPMTRSADecrypt, []byte, error) {
	if o == nil {
		return tpm2.TPMTRSADecrypt{
			Scheme:  tpm2.TPMAlgRSAES,
			Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgRSAES, &tpm2.TPMSEncSchemeRSAES{}),
		}, nil, nil
	}
	if !tpmOAEP(o) {
		if !o.Hash.Available() || (o.MGFHash != 0 && !o.MGFHash.Available()) {
			return tpm2.TPMTRSADecrypt{}, nil, fmt.Errorf("%w: OAEP with hash %v, MGF1 on %v", ErrUnsupported, o.Hash, o.MGFHash)
		}
		return tpm2.TPMTRSADecrypt{Scheme: tpm2.TPMAlgNull}, nil, nil
	}
	alg, err := hashAlg(o.Hash)
	if err != nil {
		return tpm2.TPMTRSADecrypt{}, nil, err
	}
	return tpm2.TPMTRSADecrypt{
		Scheme:  tpm2.TPMAlgOAEP,
		Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgOAEP, &tpm2.TPMSEncSchemeOAEP{HashAlg: alg}),
	}, o.Label, nil
}

// parseSignature reads the TPMT_SIGNATURE (Part 2, 11.3.4) of an RSA or
// ECDSA signature, by hand: go-tpm's reflection took 38 µs.
func parseSignature(b []byte) (*tpm2.TPMTSignature, error) {
	r := &rspReader{b: b}
	alg := tpm2.TPMAlgID(r.u16())
	hash := tpm2.TPMIAlgHash(r.u16())
	var sig tpm2.TPMTSignature
	switch alg {
	case tpm2.TPMAlgRSASSA, tpm2.TPMAlgRSAPSS:
		s := r.sized()
		sig = tpm2.TPMTSignature{SigAlg: alg, Signature: tpm2.NewTPMUSignature(alg, &tpm2.TPMSSignatureRSA{Hash: hash, Sig: tpm2.TPM2BPublicKeyRSA{Buffer: s}})}
	case tpm2.TPMAlgECDSA:
		x, y := r.sized(), r.sized()
		sig = tpm2.TPMTSignature{SigAlg: alg, Signature: tpm2.NewTPMUSignature(alg, &tpm2.TPMSSignatureECC{Hash: hash, SignatureR: tpm2.TPM2BECCParameter{Buffer: x}, SignatureS: tpm2.TPM2BECCParameter{Buffer: y}})}
	default:
		return nil, fmt.Errorf("TPM returned a signature of scheme 0x%04x", uint16(alg))
	}
	if r.err != nil || len(r.b) != 0 {
		return nil, errors.New("malformed TPM2_Sign response")
	}
	return &sig, nil
}
