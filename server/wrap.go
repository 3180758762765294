package server

import (
	"tep.dev/tep/p11"
)

// wrapKey is C_WrapKey. Every secret key of a TPM token lives in the TPM
// and is not extractable, so after the handles check out the answer is
// CKR_KEY_UNEXTRACTABLE.
func (s *Server) wrapKey(c *client, sess *session, req *p11.WrapReq) (p11.Resp, error) {
	if _, err := s.objectOf(c, sess, req.Wrapping); err != nil {
		return nil, p11.CKR_WRAPPING_KEY_HANDLE_INVALID
	}
	k, err := s.objectOf(c, sess, req.Key)
	if err != nil || (k.ulong(p11.CKA_CLASS) != p11.CKO_SECRET_KEY && k.ulong(p11.CKA_CLASS) != p11.CKO_PRIVATE_KEY) {
		return nil, p11.CKR_KEY_HANDLE_INVALID
	}
	return nil, p11.CKR_KEY_UNEXTRACTABLE
}

// unwrapKey is C_UnwrapKey with an RSA key in the TPM (CKM_RSA_PKCS or
// CKM_RSA_PKCS_OAEP): the TPM decrypts the wrapped key, which goes
// straight back into the TPM as an imported secret key.
func (s *Server) unwrapKey(c *client, req *p11.WrapReq) (p11.Resp, error) {
	if err := s.checkSession(c, req.Session); err != nil {
		return nil, err
	}
	if req.Mechanism.Type != p11.CKM_RSA_PKCS && req.Mechanism.Type != p11.CKM_RSA_PKCS_OAEP {
		return nil, p11.CKR_MECHANISM_INVALID
	}
	s.mu.Lock()
	sess, tokenKey, err := s.authKey(c, req.Session, templatePrivate(req.Template))
	var op *cryptOp
	if err == nil {
		o, e := s.objectOf(c, sess, req.Wrapping)
		switch {
		case e != nil || o.key == nil:
			err = p11.CKR_UNWRAPPING_KEY_HANDLE_INVALID
		case !o.bool(p11.CKA_UNWRAP):
			err = p11.CKR_KEY_FUNCTION_NOT_PERMITTED
		default:
			if op, err = rsaInit(req.Mechanism, o, true); err == nil {
				op.auth, err = s.keyAuth(c, sess, o)
			}
		}
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	defer clear(op.auth)
	value, err := s.rsaSingle(op, req.Data)
	if err != nil {
		if err == p11.CKR_ENCRYPTED_DATA_INVALID || err == p11.CKR_ENCRYPTED_DATA_LEN_RANGE {
			err = p11.CKR_WRAPPED_KEY_INVALID
		}
		return nil, err
	}
	defer clear(value)
	tmpl := append(req.Template, p11.Attribute{Type: p11.CKA_VALUE, Value: value})
	if templateClass(tmpl) != p11.CKO_SECRET_KEY {
		return nil, p11.CKR_TEMPLATE_INCONSISTENT
	}
	attrs, ref, err := s.importKey(sess.slot, p11.CKO_SECRET_KEY, tmpl, tokenKey)
	if err != nil {
		return nil, err
	}
	return s.putNew(c, req.Session, attrs, ref)
}
