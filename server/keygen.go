package server

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/asn1"
	"math/big"
	"slices"

	"tep.dev/tep/p11"
	"tep.dev/tep/tpm"
)

// keyAttrs builds a key object's attributes: the caller's template,
// checked against the class's rules, then what the token sets itself.
func keyAttrs(class, keyType uint64, tmpl []p11.Attribute, defaults, set map[uint64][]byte) (map[uint64][]byte, error) {
	attrs := map[uint64][]byte{}
	for _, a := range tmpl {
		if err := checkValue(a); err != nil {
			return nil, err
		}
		r, ok := rule(class, keyType, a.Type)
		switch {
		case !ok:
			return nil, p11.CKR_ATTRIBUTE_TYPE_INVALID
		case r == ruleReadOnly || r == ruleSensitive:
			if _, derived := set[a.Type]; !derived {
				return nil, p11.CKR_ATTRIBUTE_READ_ONLY
			}
		}
		if prev, ok := attrs[a.Type]; ok && string(prev) != string(a.Value) {
			return nil, p11.CKR_TEMPLATE_INCONSISTENT
		}
		attrs[a.Type] = a.Value
	}
	for t, v := range set {
		if given, ok := attrs[t]; ok && string(given) != string(v) {
			return nil, p11.CKR_TEMPLATE_INCONSISTENT
		}
		attrs[t] = v
	}
	for _, d := range []map[uint64][]byte{storageDefaults(class), defaults} {
		for t, v := range d {
			if _, ok := attrs[t]; !ok {
				attrs[t] = v
			}
		}
	}
	return attrs, nil
}

func storageDefaults(class uint64) map[uint64][]byte {
	d := map[uint64][]byte{}
	for t, v := range defaults {
		d[t] = v
	}
	if class == p11.CKO_PRIVATE_KEY {
		d[p11.CKA_PRIVATE] = p11.Bool(true)
	}
	return d
}

// keySpecFor reads the key size or curve a key-pair template asks for.
// RSA moduli are those rsaAllowed allows on slot.
func (s *Server) keySpecFor(slot, mech uint64, pub []p11.Attribute) (tpm.KeySpec, uint64, error) {
	find := func(t uint64) ([]byte, bool) {
		for _, a := range pub {
			if a.Type == t {
				return a.Value, true
			}
		}
		return nil, false
	}
	switch mech {
	case p11.CKM_RSA_PKCS_KEY_PAIR_GEN:
		bv, ok := find(p11.CKA_MODULUS_BITS)
		if !ok {
			return tpm.KeySpec{}, 0, p11.CKR_TEMPLATE_INCOMPLETE
		}
		bits, err := p11.AsUlong(bv)
		if err != nil {
			return tpm.KeySpec{}, 0, p11.CKR_ATTRIBUTE_VALUE_INVALID
		}
		s.mu.Lock()
		ok = bits <= 1<<16 && s.rsaAllowed(slot, int(bits))
		s.mu.Unlock()
		if !ok {
			return tpm.KeySpec{}, 0, p11.CKR_KEY_SIZE_RANGE
		}
		if e, ok := find(p11.CKA_PUBLIC_EXPONENT); ok && new(big.Int).SetBytes(e).Int64() != 65537 {
			return tpm.KeySpec{}, 0, p11.CKR_ATTRIBUTE_VALUE_INVALID // the TPM's exponent is 65537
		}
		return tpm.KeySpec{Kind: tpm.KindRSA, Bits: int(bits)}, p11.CKK_RSA, nil
	case p11.CKM_EC_KEY_PAIR_GEN:
		params, ok := find(p11.CKA_EC_PARAMS)
		if !ok {
			return tpm.KeySpec{}, 0, p11.CKR_TEMPLATE_INCOMPLETE
		}
		curve, ok := curves[string(params)]
		if !ok || !slices.Contains(s.caps.Curves, curve) {
			return tpm.KeySpec{}, 0, p11.CKR_CURVE_NOT_SUPPORTED
		}
		return tpm.KeySpec{Kind: tpm.KindECC, Curve: curve}, p11.CKK_EC, nil
	}
	return tpm.KeySpec{}, 0, p11.CKR_MECHANISM_INVALID
}

func (s *Server) generateKeyPair(c *client, req *p11.KeyPairReq) (p11.Resp, error) {
	s.mu.Lock()
	// The private key's authorisation is wrapped by the user's token key,
	// or for a public private key (CKA_PRIVATE=FALSE) by the token's
	// public key (public.go).
	sess, tokenKey, err := s.authKey(c, req.Session, templatePrivate(req.Private))
	var slot uint64
	if err == nil {
		slot = sess.slot
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if len(req.Mechanism.Param) != 0 {
		return nil, p11.CKR_MECHANISM_PARAM_INVALID
	}
	spec, keyType, err := s.keySpecFor(slot, req.Mechanism.Type, req.Public)
	if err != nil {
		return nil, err
	}
	// Check both templates before the TPM spends time on a key.
	_, privAttrs, err := pairAttrs(*req, keyType, nil)
	if err != nil {
		return nil, err
	}
	priv := object{attrs: privAttrs}
	if !priv.bool(p11.CKA_SENSITIVE) || priv.bool(p11.CKA_EXTRACTABLE) {
		return nil, p11.CKR_ATTRIBUTE_VALUE_INVALID // a TPM key never leaves the TPM
	}
	spec.Sign, spec.Decrypt = priv.bool(p11.CKA_SIGN), priv.bool(p11.CKA_DECRYPT) || priv.bool(p11.CKA_UNWRAP)
	if !spec.Sign && !spec.Decrypt {
		return nil, p11.CKR_TEMPLATE_INCONSISTENT
	}
	if keyType == p11.CKK_EC && spec.Decrypt {
		return nil, p11.CKR_ATTRIBUTE_VALUE_INVALID // no EC decryption
	}
	auth, err := s.tpm.GetRandom(32)
	if err != nil {
		return nil, err
	}
	wrapped, err := s.wrapAuth(tokenKey, auth)
	if err != nil {
		return nil, err
	}
	blob, pubKey, err := s.tpm.CreateKey(spec, auth)
	clear(auth)
	if err != nil {
		return nil, err
	}
	pubAttrs, privAttrs, err := pairAttrs(*req, keyType, pubKey)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess, err = s.sessionOf(c, req.Session); err != nil {
		return nil, err
	}
	for _, a := range []map[uint64][]byte{pubAttrs, privAttrs} {
		if err := mayHold(c, sess, a); err != nil {
			return nil, err
		}
	}
	ph, err := s.put(c, sess, pubAttrs, nil)
	if err != nil {
		return nil, err
	}
	kh, err := s.put(c, sess, privAttrs, &keyRef{Blob: blob, Auth: wrapped})
	if err != nil {
		s.unput(ph) // no half pair, nor its room, stays behind
		return nil, err
	}
	return &p11.KeyPairResp{Public: ph, Private: kh}, nil
}

// pairAttrs builds the attributes of both halves of a new key pair. With
// a nil pub it only checks the templates.
func pairAttrs(req p11.KeyPairReq, keyType uint64, pub any) (map[uint64][]byte, map[uint64][]byte, error) {
	common := map[uint64][]byte{
		p11.CKA_KEY_TYPE: p11.Ulong(keyType), p11.CKA_LOCAL: p11.Bool(true),
		p11.CKA_KEY_GEN_MECHANISM: p11.Ulong(req.Mechanism.Type),
	}
	pubSet := map[uint64][]byte{p11.CKA_CLASS: p11.Ulong(p11.CKO_PUBLIC_KEY)}
	privSet := map[uint64][]byte{p11.CKA_CLASS: p11.Ulong(p11.CKO_PRIVATE_KEY)}
	for t, v := range common {
		pubSet[t], privSet[t] = v, v
	}
	if pub == nil && keyType == p11.CKK_RSA {
		// The size asked for is the one the key will have.
		for _, a := range req.Public {
			if a.Type == p11.CKA_MODULUS_BITS {
				pubSet[p11.CKA_MODULUS_BITS] = a.Value
			}
		}
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		n, e := k.N.Bytes(), big.NewInt(int64(k.E)).Bytes()
		for _, m := range []map[uint64][]byte{pubSet, privSet} {
			m[p11.CKA_MODULUS], m[p11.CKA_PUBLIC_EXPONENT] = n, e
		}
		pubSet[p11.CKA_MODULUS_BITS] = p11.Ulong(uint64(k.N.BitLen()))
	case *ecdsa.PublicKey:
		oid, _ := curveOID(k.Curve)
		point, err := k.Bytes()
		if err != nil {
			return nil, nil, err
		}
		der, _ := asn1.Marshal(point)
		pubSet[p11.CKA_EC_PARAMS], pubSet[p11.CKA_EC_POINT] = oid, der
		privSet[p11.CKA_EC_PARAMS] = oid
	}
	pubDefaults := classDefaults[p11.CKO_PUBLIC_KEY]
	privDefaults := map[uint64][]byte{
		p11.CKA_ID: {}, p11.CKA_START_DATE: {}, p11.CKA_END_DATE: {}, p11.CKA_DERIVE: p11.Bool(false),
		p11.CKA_SUBJECT: {}, p11.CKA_SENSITIVE: p11.Bool(true), p11.CKA_SIGN: p11.Bool(true),
		p11.CKA_DECRYPT: p11.Bool(keyType == p11.CKK_RSA), p11.CKA_SIGN_RECOVER: p11.Bool(false),
		p11.CKA_UNWRAP: p11.Bool(false), p11.CKA_EXTRACTABLE: p11.Bool(false),
		p11.CKA_WRAP_WITH_TRUSTED: p11.Bool(false), p11.CKA_ALWAYS_AUTHENTICATE: p11.Bool(false),
	}
	pubAttrs, err := keyAttrs(p11.CKO_PUBLIC_KEY, keyType, req.Public, pubDefaults, pubSet)
	if err != nil {
		return nil, nil, err
	}
	privAttrs, err := keyAttrs(p11.CKO_PRIVATE_KEY, keyType, req.Private, privDefaults, privSet)
	if err != nil {
		return nil, nil, err
	}
	o := object{attrs: privAttrs}
	privAttrs[p11.CKA_ALWAYS_SENSITIVE] = p11.Bool(o.bool(p11.CKA_SENSITIVE))
	privAttrs[p11.CKA_NEVER_EXTRACTABLE] = p11.Bool(!o.bool(p11.CKA_EXTRACTABLE))
	return pubAttrs, privAttrs, nil
}
