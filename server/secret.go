package server

import (
	"slices"

	"tep.dev/tep/p11"
	"tep.dev/tep/tpm"
)

// secretRules are the attributes of secret keys made in the TPM.
var secretRules = map[uint64]attrRule{
	p11.CKA_KEY_TYPE: ruleFixed, p11.CKA_ID: ruleOptional, p11.CKA_START_DATE: ruleOptional,
	p11.CKA_END_DATE: ruleOptional, p11.CKA_DERIVE: ruleFixed, p11.CKA_LOCAL: ruleReadOnly,
	p11.CKA_KEY_GEN_MECHANISM: ruleReadOnly, p11.CKA_ALLOWED_MECHANISMS: ruleFixed,
	p11.CKA_SENSITIVE: ruleFixed, p11.CKA_ENCRYPT: ruleFixed, p11.CKA_DECRYPT: ruleFixed,
	p11.CKA_SIGN: ruleFixed, p11.CKA_VERIFY: ruleFixed, p11.CKA_WRAP: ruleFixed, p11.CKA_UNWRAP: ruleFixed,
	p11.CKA_EXTRACTABLE: ruleFixed, p11.CKA_ALWAYS_SENSITIVE: ruleReadOnly,
	p11.CKA_NEVER_EXTRACTABLE: ruleReadOnly, p11.CKA_CHECK_VALUE: ruleReadOnly,
	p11.CKA_WRAP_WITH_TRUSTED: ruleFixed, p11.CKA_TRUSTED: ruleFixed,
}

var secretTypeRules = map[uint64]map[uint64]attrRule{
	p11.CKK_AES:            {p11.CKA_VALUE: ruleSensitive, p11.CKA_VALUE_LEN: ruleReadOnly},
	p11.CKK_DES2:           {p11.CKA_VALUE: ruleSensitive, p11.CKA_VALUE_LEN: ruleReadOnly},
	p11.CKK_DES3:           {p11.CKA_VALUE: ruleSensitive, p11.CKA_VALUE_LEN: ruleReadOnly},
	p11.CKK_GENERIC_SECRET: {p11.CKA_VALUE: ruleSensitive, p11.CKA_VALUE_LEN: ruleReadOnly},
}

// secretGen is a secret-key generation mechanism of a block cipher.
type secretGen struct {
	keyType uint64
	kind    tpm.KeyKind
	sizes   func(tpm.Caps) []int // the key sizes the TPM takes, in bits
	// fixed is the mechanism's one key size in bytes (the DES key types
	// have no CKA_VALUE_LEN to ask for one); 0 means CKA_VALUE_LEN says.
	fixed uint64
}

// secretGens are the block ciphers' key generation mechanisms.
var secretGens = map[uint64]secretGen{
	p11.CKM_AES_KEY_GEN:  {p11.CKK_AES, tpm.KindAES, aesSizes, 0},
	p11.CKM_DES2_KEY_GEN: {p11.CKK_DES2, tpm.KindTDES, func(c tpm.Caps) []int { return c.TDESBits }, 16},
	p11.CKM_DES3_KEY_GEN: {p11.CKK_DES3, tpm.KindTDES, func(c tpm.Caps) []int { return c.TDESBits }, 24},
}

// aesSizes are the AES key sizes, if the TPM runs AES in any mode.
func aesSizes(c tpm.Caps) []int {
	if len(c.AESModes) == 0 {
		return nil
	}
	return c.AESBits
}

// size returns the size in bytes of the key the template asks for.
func (g secretGen) size(caps tpm.Caps, template []p11.Attribute) (uint64, error) {
	size := g.fixed
	for _, a := range template {
		if a.Type != p11.CKA_VALUE_LEN {
			continue
		}
		n, err := p11.AsUlong(a.Value)
		if err != nil || g.fixed != 0 && n != g.fixed {
			return 0, p11.CKR_ATTRIBUTE_VALUE_INVALID
		}
		size = n
	}
	if size == 0 {
		return 0, p11.CKR_TEMPLATE_INCOMPLETE
	}
	if !slices.Contains(g.sizes(caps), int(8*size)) {
		return 0, p11.CKR_KEY_SIZE_RANGE
	}
	return size, nil
}

// offered reports whether a TPM with caps runs g: for a fixed size, that
// size; otherwise any.
func (g secretGen) offered(caps tpm.Caps) bool {
	sizes := g.sizes(caps)
	if g.fixed != 0 {
		return slices.Contains(sizes, int(8*g.fixed))
	}
	return len(sizes) > 0
}

func (s *Server) generateKey(c *client, req *p11.KeyReq) (p11.Resp, error) {
	if err := s.checkSession(c, req.Session); err != nil {
		return nil, err
	}
	if req.Mechanism.Type == p11.CKM_GENERIC_SECRET_KEY_GEN && s.caps.HMAC {
		return s.generateMACKey(c, *req)
	}
	g, ok := secretGens[req.Mechanism.Type]
	if !ok || !g.offered(s.caps) {
		return nil, p11.CKR_MECHANISM_INVALID
	}
	if len(req.Mechanism.Param) != 0 {
		return nil, p11.CKR_MECHANISM_PARAM_INVALID
	}
	s.mu.Lock()
	_, tokenKey, err := s.authKey(c, req.Session, templatePrivate(req.Template))
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	size, err := g.size(s.caps, req.Template)
	if err != nil {
		return nil, err
	}
	set := map[uint64][]byte{
		p11.CKA_CLASS: p11.Ulong(p11.CKO_SECRET_KEY), p11.CKA_KEY_TYPE: p11.Ulong(g.keyType),
		p11.CKA_LOCAL: p11.Bool(true), p11.CKA_KEY_GEN_MECHANISM: p11.Ulong(req.Mechanism.Type),
		p11.CKA_VALUE_LEN: p11.Ulong(size),
	}
	defaults := map[uint64][]byte{
		p11.CKA_ID: {}, p11.CKA_START_DATE: {}, p11.CKA_END_DATE: {}, p11.CKA_DERIVE: p11.Bool(false),
		p11.CKA_SENSITIVE: p11.Bool(true), p11.CKA_ENCRYPT: p11.Bool(true), p11.CKA_DECRYPT: p11.Bool(true),
		p11.CKA_SIGN: p11.Bool(false), p11.CKA_VERIFY: p11.Bool(false), p11.CKA_WRAP: p11.Bool(false),
		p11.CKA_UNWRAP: p11.Bool(false), p11.CKA_EXTRACTABLE: p11.Bool(false),
		p11.CKA_WRAP_WITH_TRUSTED: p11.Bool(false), p11.CKA_TRUSTED: p11.Bool(false),
		p11.CKA_PRIVATE: p11.Bool(true),
	}
	attrs, err := keyAttrs(p11.CKO_SECRET_KEY, g.keyType, req.Template, defaults, set)
	if err != nil {
		return nil, err
	}
	o := object{attrs: attrs}
	if o.bool(p11.CKA_EXTRACTABLE) || o.bool(p11.CKA_SIGN) || o.bool(p11.CKA_WRAP) || o.bool(p11.CKA_UNWRAP) {
		return nil, p11.CKR_ATTRIBUTE_VALUE_INVALID // what a TPM AES or TDES key cannot be or do
	}
	// The value never leaves the TPM, whatever the template said about
	// CKA_SENSITIVE (pkcs11-tool asks for false by default): the object
	// says what is true.
	attrs[p11.CKA_SENSITIVE] = p11.Bool(true)
	attrs[p11.CKA_ALWAYS_SENSITIVE], attrs[p11.CKA_NEVER_EXTRACTABLE] = p11.Bool(true), p11.Bool(true)
	spec := tpm.KeySpec{Kind: g.kind, Bits: int(8 * size), Sign: o.bool(p11.CKA_ENCRYPT), Decrypt: o.bool(p11.CKA_DECRYPT)}
	if !spec.Sign && !spec.Decrypt {
		return nil, p11.CKR_TEMPLATE_INCONSISTENT
	}
	ref, err := s.newTPMKey(spec, tokenKey)
	if err != nil {
		return nil, err
	}
	return s.putNew(c, req.Session, attrs, ref)
}

// newTPMKey creates a key in the TPM with a fresh random authorisation,
// wrapped under the token key.
func (s *Server) newTPMKey(spec tpm.KeySpec, tokenKey []byte) (*keyRef, error) {
	auth, err := s.tpm.GetRandom(32)
	if err != nil {
		return nil, err
	}
	defer clear(auth)
	wrapped, err := s.wrapAuth(tokenKey, auth)
	if err != nil {
		return nil, err
	}
	blob, _, err := s.tpm.CreateKey(spec, auth)
	if err != nil {
		return nil, err
	}
	return &keyRef{Blob: blob, Auth: wrapped}, nil
}

// userSession returns c's session h and the token key of its user login.
// s.mu is held.
func (s *Server) userSession(c *client, h uint64) (*session, []byte, error) {
	sess, err := s.sessionOf(c, h)
	if err != nil {
		return nil, nil, err
	}
	l, ok := c.login[sess.slot]
	if !ok || l.user != p11.CKU_USER {
		return nil, nil, p11.CKR_USER_NOT_LOGGED_IN
	}
	return sess, l.key, nil
}
