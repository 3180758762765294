package server

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"math/big"

	"tep.dev/tep/p11"
	"tep.dev/tep/tpm"
)

// secretParts are the attributes that carry key material into the TPM on
// import; they are never kept as attributes.
var secretParts = map[uint64]bool{
	p11.CKA_VALUE: true, p11.CKA_PRIVATE_EXPONENT: true, p11.CKA_PRIME_1: true, p11.CKA_PRIME_2: true,
	p11.CKA_EXPONENT_1: true, p11.CKA_EXPONENT_2: true, p11.CKA_COEFFICIENT: true,
}

// importKey brings a private or secret key of an application's template
// into the TPM (TPM2_Import) and returns the object's attributes. An RSA
// key the TPM or the policy of the token in slot does not allow is
// CKR_ATTRIBUTE_VALUE_INVALID (its modulus).
func (s *Server) importKey(slot, class uint64, tmpl []p11.Attribute, tokenKey []byte) (map[uint64][]byte, *keyRef, error) {
	secret := map[uint64][]byte{}
	var rest []p11.Attribute
	var keyType uint64
	hasType := false
	for _, a := range tmpl {
		switch {
		case secretParts[a.Type]:
			secret[a.Type] = a.Value
		case a.Type == p11.CKA_CLASS:
		default:
			if a.Type == p11.CKA_KEY_TYPE {
				v, err := p11.AsUlong(a.Value)
				if err != nil {
					return nil, nil, p11.CKR_ATTRIBUTE_VALUE_INVALID
				}
				keyType, hasType = v, true
			}
			rest = append(rest, a)
		}
	}
	if !hasType {
		return nil, nil, p11.CKR_TEMPLATE_INCOMPLETE
	}
	spec, priv, set, err := importedMaterial(class, keyType, tmpl, secret)
	if err != nil {
		return nil, nil, err
	}
	if k, ok := priv.(*rsa.PrivateKey); ok {
		s.mu.Lock()
		ok = s.rsaAllowed(slot, k.N.BitLen())
		s.mu.Unlock()
		if !ok {
			return nil, nil, p11.CKR_ATTRIBUTE_VALUE_INVALID
		}
	}
	set[p11.CKA_CLASS] = p11.Ulong(class)
	set[p11.CKA_LOCAL] = p11.Bool(false)
	set[p11.CKA_KEY_GEN_MECHANISM] = p11.Ulong(p11.CK_UNAVAILABLE_INFORMATION)
	set[p11.CKA_ALWAYS_SENSITIVE] = p11.Bool(false) // it was outside the TPM once
	set[p11.CKA_NEVER_EXTRACTABLE] = p11.Bool(false)
	set[p11.CKA_SENSITIVE] = p11.Bool(true)
	defaults := map[uint64][]byte{
		p11.CKA_ID: {}, p11.CKA_START_DATE: {}, p11.CKA_END_DATE: {}, p11.CKA_DERIVE: p11.Bool(false),
		p11.CKA_EXTRACTABLE: p11.Bool(false), p11.CKA_WRAP_WITH_TRUSTED: p11.Bool(false),
		p11.CKA_PRIVATE: p11.Bool(true),
	}
	if class == p11.CKO_SECRET_KEY {
		for t, v := range map[uint64][]byte{p11.CKA_ENCRYPT: p11.Bool(true), p11.CKA_DECRYPT: p11.Bool(true),
			p11.CKA_SIGN: p11.Bool(false), p11.CKA_VERIFY: p11.Bool(false), p11.CKA_WRAP: p11.Bool(false),
			p11.CKA_UNWRAP: p11.Bool(false), p11.CKA_TRUSTED: p11.Bool(false)} {
			defaults[t] = v
		}
	} else {
		for t, v := range map[uint64][]byte{p11.CKA_SUBJECT: {}, p11.CKA_SIGN: p11.Bool(true),
			p11.CKA_DECRYPT: p11.Bool(keyType == p11.CKK_RSA), p11.CKA_SIGN_RECOVER: p11.Bool(false),
			p11.CKA_UNWRAP: p11.Bool(false), p11.CKA_ALWAYS_AUTHENTICATE: p11.Bool(false)} {
			defaults[t] = v
		}
	}
	attrs, err := keyAttrs(class, keyType, rest, defaults, set)
	if err != nil {
		return nil, nil, err
	}
	o := object{attrs: attrs}
	if o.bool(p11.CKA_EXTRACTABLE) || o.bool(p11.CKA_WRAP) || o.bool(p11.CKA_UNWRAP) ||
		(class == p11.CKO_SECRET_KEY && o.bool(p11.CKA_SIGN)) {
		return nil, nil, p11.CKR_ATTRIBUTE_VALUE_INVALID
	}
	if class == p11.CKO_SECRET_KEY {
		spec.Sign, spec.Decrypt = o.bool(p11.CKA_ENCRYPT), o.bool(p11.CKA_DECRYPT)
	} else {
		spec.Sign, spec.Decrypt = o.bool(p11.CKA_SIGN), o.bool(p11.CKA_DECRYPT)
	}
	if !spec.Sign && !spec.Decrypt {
		return nil, nil, p11.CKR_TEMPLATE_INCONSISTENT
	}
	auth, err := s.tpm.GetRandom(32)
	if err != nil {
		return nil, nil, err
	}
	defer clear(auth)
	wrapped, err := s.wrapAuth(tokenKey, auth)
	if err != nil {
		return nil, nil, err
	}
	blob, err := s.tpm.ImportKey(spec, priv, auth)
	if err != nil {
		return nil, nil, err
	}
	return attrs, &keyRef{Blob: blob, Auth: wrapped}, nil
}

// importedMaterial builds the Go key an import template describes, and the
// attributes it implies.
func importedMaterial(class, keyType uint64, tmpl []p11.Attribute, secret map[uint64][]byte) (tpm.KeySpec, any, map[uint64][]byte, error) {
	get := func(t uint64) []byte {
		for _, a := range tmpl {
			if a.Type == t {
				return a.Value
			}
		}
		return nil
	}
	bad := p11.CKR_ATTRIBUTE_VALUE_INVALID
	switch {
	case class == p11.CKO_SECRET_KEY && keyType == p11.CKK_AES:
		v := secret[p11.CKA_VALUE]
		if v == nil {
			return tpm.KeySpec{}, nil, nil, p11.CKR_TEMPLATE_INCOMPLETE
		}
		if len(v) != 16 && len(v) != 32 {
			return tpm.KeySpec{}, nil, nil, bad
		}
		return tpm.KeySpec{Kind: tpm.KindAES, Bits: 8 * len(v)}, v,
			map[uint64][]byte{p11.CKA_KEY_TYPE: p11.Ulong(p11.CKK_AES), p11.CKA_VALUE_LEN: p11.Ulong(uint64(len(v)))}, nil
	case class == p11.CKO_PRIVATE_KEY && keyType == p11.CKK_RSA:
		n, e, d := get(p11.CKA_MODULUS), get(p11.CKA_PUBLIC_EXPONENT), secret[p11.CKA_PRIVATE_EXPONENT]
		p, q := secret[p11.CKA_PRIME_1], secret[p11.CKA_PRIME_2]
		if n == nil || e == nil || d == nil || p == nil || q == nil {
			return tpm.KeySpec{}, nil, nil, p11.CKR_TEMPLATE_INCOMPLETE
		}
		k := &rsa.PrivateKey{
			PublicKey: rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())},
			D:         new(big.Int).SetBytes(d),
			Primes:    []*big.Int{new(big.Int).SetBytes(p), new(big.Int).SetBytes(q)},
		}
		if err := k.Validate(); err != nil {
			return tpm.KeySpec{}, nil, nil, bad
		}
		k.Precompute()
		return tpm.KeySpec{Kind: tpm.KindRSA}, k, map[uint64][]byte{
			p11.CKA_KEY_TYPE: p11.Ulong(p11.CKK_RSA),
			p11.CKA_MODULUS:  n, p11.CKA_PUBLIC_EXPONENT: e,
		}, nil
	case class == p11.CKO_PRIVATE_KEY && keyType == p11.CKK_EC:
		curve, ok := curves[string(get(p11.CKA_EC_PARAMS))]
		v := secret[p11.CKA_VALUE]
		if !ok || v == nil {
			return tpm.KeySpec{}, nil, nil, p11.CKR_TEMPLATE_INCOMPLETE
		}
		k, err := ecdsa.ParseRawPrivateKey(curve, leftPad(v, (curve.Params().BitSize+7)/8))
		if err != nil {
			return tpm.KeySpec{}, nil, nil, bad
		}
		return tpm.KeySpec{Kind: tpm.KindECC, Curve: curve}, k, map[uint64][]byte{
			p11.CKA_KEY_TYPE: p11.Ulong(p11.CKK_EC), p11.CKA_EC_PARAMS: get(p11.CKA_EC_PARAMS),
		}, nil
	}
	return tpm.KeySpec{}, nil, nil, bad
}

func leftPad(b []byte, n int) []byte {
	if len(b) >= n {
		return b
	}
	return append(make([]byte, n-len(b)), b...)
}
