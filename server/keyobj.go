package server

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/elliptic"
	"errors"
	"slices"

	"github.com/vmihailenco/msgpack/v5"
	"tep.dev/tep/p11"
	"tep.dev/tep/tpm"
)

// keyRef is the TPM half of a private key object: the key wrapped by the
// TPM, and its authorisation wrapped by the token key, which only a login
// (the TPM unsealing it for the right PIN) yields. A stolen database holds
// neither a usable key nor its authorisation.
type keyRef struct {
	Blob tpm.KeyBlob
	Auth []byte // AES-256-GCM(token key): nonce || ciphertext
	// MACs are a generic secret's HMAC keys, one per hash: a TPM HMAC
	// key is bound to its hash, a PKCS#11 one serves every HMAC mechanism.
	MACs map[crypto.Hash]tpm.KeyBlob `msgpack:",omitempty"`
}

func (k *keyRef) encode() ([]byte, error) {
	if k == nil {
		return nil, nil
	}
	return msgpack.Marshal(k)
}

func decodeKeyRef(b []byte) (*keyRef, error) {
	if len(b) == 0 {
		return nil, nil
	}
	k := new(keyRef)
	return k, msgpack.Unmarshal(b, k)
}

// wrapAuth seals a key's authorisation under the token key.
func (s *Server) wrapAuth(tokenKey, auth []byte) ([]byte, error) {
	aead, err := newAEAD(tokenKey)
	if err != nil {
		return nil, err
	}
	nonce, err := s.tpm.GetRandom(aead.NonceSize())
	if err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, auth, nil), nil
}

// unwrapAuth opens what wrapAuth sealed.
func unwrapAuth(tokenKey, wrapped []byte) ([]byte, error) {
	aead, err := newAEAD(tokenKey)
	if err != nil {
		return nil, err
	}
	n := aead.NonceSize()
	if len(wrapped) < n {
		return nil, errors.New("wrapped key authorisation too short")
	}
	return aead.Open(nil, wrapped[:n], wrapped[n:], nil)
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// privateRules are the attributes of private keys made in the TPM.
var privateRules = map[uint64]attrRule{
	p11.CKA_KEY_TYPE: ruleFixed, p11.CKA_ID: ruleOptional, p11.CKA_START_DATE: ruleOptional,
	p11.CKA_END_DATE: ruleOptional, p11.CKA_DERIVE: ruleFixed, p11.CKA_LOCAL: ruleReadOnly,
	p11.CKA_KEY_GEN_MECHANISM: ruleReadOnly, p11.CKA_ALLOWED_MECHANISMS: ruleFixed,
	p11.CKA_SUBJECT: ruleOptional, p11.CKA_SENSITIVE: ruleFixed, p11.CKA_DECRYPT: ruleFixed,
	p11.CKA_SIGN: ruleFixed, p11.CKA_SIGN_RECOVER: ruleFixed, p11.CKA_UNWRAP: ruleFixed,
	p11.CKA_EXTRACTABLE: ruleFixed, p11.CKA_ALWAYS_SENSITIVE: ruleReadOnly,
	p11.CKA_NEVER_EXTRACTABLE: ruleReadOnly, p11.CKA_WRAP_WITH_TRUSTED: ruleFixed,
	p11.CKA_ALWAYS_AUTHENTICATE: ruleFixed, p11.CKA_PUBLIC_KEY_INFO: ruleFixed,
}

// privateTypeRules: public parts readable, private parts never leave the TPM.
var privateTypeRules = map[uint64]map[uint64]attrRule{
	p11.CKK_RSA: {
		p11.CKA_MODULUS: ruleReadOnly, p11.CKA_PUBLIC_EXPONENT: ruleReadOnly,
		p11.CKA_PRIVATE_EXPONENT: ruleSensitive, p11.CKA_PRIME_1: ruleSensitive, p11.CKA_PRIME_2: ruleSensitive,
		p11.CKA_EXPONENT_1: ruleSensitive, p11.CKA_EXPONENT_2: ruleSensitive, p11.CKA_COEFFICIENT: ruleSensitive,
	},
	p11.CKK_EC: {p11.CKA_EC_PARAMS: ruleReadOnly, p11.CKA_VALUE: ruleSensitive},
}

// curveOID returns the DER OID (CKA_EC_PARAMS) of a curve.
func curveOID(c elliptic.Curve) ([]byte, bool) {
	for oid, k := range curves {
		if k == c {
			return []byte(oid), true
		}
	}
	return nil, false
}

// canSign reports whether the TPM signs with mech.
func canSign(caps tpm.Caps, mech uint64, sm sigMech) bool {
	hashOK := sm.hash == 0 || slices.Contains(caps.Hashes, sm.hash)
	switch {
	case mech == p11.CKM_RSA_PKCS:
		return caps.RSASSA // for a DigestInfo of a hash the TPM knows (see digestInfo)
	case sm.keyType == p11.CKK_EC:
		return caps.ECDSA && hashOK
	case sm.pss:
		return caps.RSAPSS && hashOK
	}
	return caps.RSASSA && hashOK
}
