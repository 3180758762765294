package server

import (
	"crypto"
	"crypto/subtle"
	"slices"

	"tep.dev/tep/p11"
	"tep.dev/tep/tpm"
)

// hmacMechs are the HMAC mechanisms, by hash.
var hmacMechs = map[uint64]crypto.Hash{
	p11.CKM_SHA_1_HMAC: crypto.SHA1, p11.CKM_SHA256_HMAC: crypto.SHA256,
	p11.CKM_SHA384_HMAC: crypto.SHA384, p11.CKM_SHA512_HMAC: crypto.SHA512,
}

// maxMACData bounds the data one HMAC operation gathers.
const maxMACData = 64 << 20

// generateMACKey is C_GenerateKey with CKM_GENERIC_SECRET_KEY_GEN. The TPM
// draws the secret and takes it back as one HMAC key per hash it offers;
// the secret is in this process's memory only between the two.
func (s *Server) generateMACKey(c *client, req p11.KeyReq) (p11.Resp, error) {
	s.mu.Lock()
	_, tokenKey, err := s.authKey(c, req.Session, templatePrivate(req.Template))
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	var size uint64
	for _, a := range req.Template {
		if a.Type == p11.CKA_VALUE_LEN {
			if size, err = p11.AsUlong(a.Value); err != nil {
				return nil, p11.CKR_ATTRIBUTE_VALUE_INVALID
			}
		}
	}
	if size == 0 {
		return nil, p11.CKR_TEMPLATE_INCOMPLETE
	}
	if size < 14 || size > 128 {
		return nil, p11.CKR_KEY_SIZE_RANGE
	}
	set := map[uint64][]byte{
		p11.CKA_CLASS: p11.Ulong(p11.CKO_SECRET_KEY), p11.CKA_KEY_TYPE: p11.Ulong(p11.CKK_GENERIC_SECRET),
		p11.CKA_LOCAL: p11.Bool(true), p11.CKA_KEY_GEN_MECHANISM: p11.Ulong(p11.CKM_GENERIC_SECRET_KEY_GEN),
		p11.CKA_VALUE_LEN: p11.Ulong(size), p11.CKA_SENSITIVE: p11.Bool(true),
		p11.CKA_ALWAYS_SENSITIVE: p11.Bool(true), p11.CKA_NEVER_EXTRACTABLE: p11.Bool(true),
	}
	defaults := map[uint64][]byte{
		p11.CKA_ID: {}, p11.CKA_START_DATE: {}, p11.CKA_END_DATE: {}, p11.CKA_DERIVE: p11.Bool(false),
		p11.CKA_ENCRYPT: p11.Bool(false), p11.CKA_DECRYPT: p11.Bool(false), p11.CKA_SIGN: p11.Bool(true),
		p11.CKA_VERIFY: p11.Bool(true), p11.CKA_WRAP: p11.Bool(false), p11.CKA_UNWRAP: p11.Bool(false),
		p11.CKA_EXTRACTABLE: p11.Bool(false), p11.CKA_WRAP_WITH_TRUSTED: p11.Bool(false),
		p11.CKA_TRUSTED: p11.Bool(false), p11.CKA_PRIVATE: p11.Bool(true),
	}
	attrs, err := keyAttrs(p11.CKO_SECRET_KEY, p11.CKK_GENERIC_SECRET, req.Template, defaults, set)
	if err != nil {
		return nil, err
	}
	o := object{attrs: attrs}
	if o.bool(p11.CKA_EXTRACTABLE) || o.bool(p11.CKA_ENCRYPT) || o.bool(p11.CKA_DECRYPT) || o.bool(p11.CKA_WRAP) || o.bool(p11.CKA_UNWRAP) {
		return nil, p11.CKR_ATTRIBUTE_VALUE_INVALID
	}
	ref, err := s.newMACKey(int(size), tokenKey)
	if err != nil {
		return nil, err
	}
	return s.putNew(c, req.Session, attrs, ref)
}

func (s *Server) newMACKey(size int, tokenKey []byte) (*keyRef, error) {
	secret, err := s.tpm.GetRandom(size)
	if err != nil {
		return nil, err
	}
	defer clear(secret)
	auth, err := s.tpm.GetRandom(32)
	if err != nil {
		return nil, err
	}
	defer clear(auth)
	wrapped, err := s.wrapAuth(tokenKey, auth)
	if err != nil {
		return nil, err
	}
	ref := &keyRef{Auth: wrapped, MACs: map[crypto.Hash]tpm.KeyBlob{}}
	for _, h := range hmacMechs {
		if !slices.Contains(s.caps.Hashes, h) {
			continue
		}
		blob, err := s.tpm.ImportKey(tpm.KeySpec{Kind: tpm.KindHMAC, Hash: h, Sign: true}, secret, auth)
		if err != nil {
			return nil, err
		}
		ref.MACs[h] = blob
	}
	return ref, nil
}

// macOp is an HMAC in progress, for C_Sign* and C_Verify*.
type macOp struct {
	key  tpm.KeyBlob
	auth []byte
	size int
	data []byte
}

// macInit prepares an HMAC with mechanism m on object o for c's login on
// the session's token. s.mu is held.
func (s *Server) macInit(c *client, sess *session, m uint64, o *object, use uint64) (*macOp, error) {
	h := hmacMechs[m]
	if o.ulong(p11.CKA_CLASS) != p11.CKO_SECRET_KEY || o.key == nil {
		return nil, p11.CKR_KEY_HANDLE_INVALID
	}
	blob, ok := o.key.MACs[h]
	if !ok || o.ulong(p11.CKA_KEY_TYPE) != p11.CKK_GENERIC_SECRET {
		return nil, p11.CKR_KEY_TYPE_INCONSISTENT
	}
	if !o.bool(use) {
		return nil, p11.CKR_KEY_FUNCTION_NOT_PERMITTED
	}
	auth, err := s.keyAuth(c, sess, o)
	if err != nil {
		return nil, err
	}
	return &macOp{key: blob, auth: auth, size: h.Size()}, nil
}

func (op *macOp) update(data []byte) error {
	if len(op.data)+len(data) > maxMACData {
		return p11.CKR_DATA_LEN_RANGE
	}
	op.data = append(op.data, data...)
	return nil
}

// mac computes the HMAC in the TPM.
func (s *Server) mac(op *macOp) ([]byte, error) {
	defer clear(op.auth)
	return s.tpm.HMAC(op.key, op.auth, op.data)
}

// macCheck verifies an HMAC in constant time.
func (s *Server) macCheck(op *macOp, sig []byte) error {
	if len(sig) != op.size {
		return p11.CKR_SIGNATURE_LEN_RANGE
	}
	want, err := s.mac(op)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(want, sig) != 1 {
		return p11.CKR_SIGNATURE_INVALID
	}
	return nil
}

// macOpFor resolves the key of an HMAC init. s.mu is held.
func (s *Server) macOpFor(c *client, sess *session, req p11.OpInitReq, use uint64) (*macOp, error) {
	if len(req.Mechanism.Param) != 0 {
		return nil, p11.CKR_MECHANISM_PARAM_INVALID
	}
	o, err := s.objectOf(c, sess, req.Key)
	if err != nil {
		return nil, p11.CKR_KEY_HANDLE_INVALID
	}
	return s.macInit(c, sess, req.Mechanism.Type, o, use)
}
