package server

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"

	"tep.dev/tep/p11"
	"tep.dev/tep/tpm"
)

// rsaCrypt is an RSA encryption (in software, with a public key object)
// or decryption (in the TPM) in progress. Both are single-part only.
type rsaCrypt struct {
	pub  *rsa.PublicKey
	oaep *rsa.OAEPOptions // nil: PKCS #1 v1.5
}

// rsaInit prepares an RSA operation of mechanism m on object o. s.mu is held.
func rsaInit(m p11.Mechanism, o *object, decrypt bool) (*cryptOp, error) {
	if o.ulong(p11.CKA_KEY_TYPE) != p11.CKK_RSA {
		return nil, p11.CKR_KEY_TYPE_INCONSISTENT
	}
	want := uint64(p11.CKO_PUBLIC_KEY)
	if decrypt {
		want = p11.CKO_PRIVATE_KEY
	}
	if o.ulong(p11.CKA_CLASS) != want || (decrypt && o.key == nil) {
		return nil, p11.CKR_KEY_HANDLE_INVALID
	}
	rc := &rsaCrypt{}
	switch m.Type {
	case p11.CKM_RSA_PKCS:
		if len(m.Param) != 0 {
			return nil, p11.CKR_MECHANISM_PARAM_INVALID
		}
	case p11.CKM_RSA_PKCS_OAEP:
		p, err := p11.DecodeOAEP(m.Param)
		h, ok := mechHash[p.Hash]
		mgf, mgfOK := mgfHash[p.MGF]
		if err != nil || !ok || !mgfOK || (p.Source != 0 && p.Source != p11.CKZ_DATA_SPECIFIED) {
			return nil, p11.CKR_MECHANISM_PARAM_INVALID
		}
		rc.oaep = &rsa.OAEPOptions{Hash: h, MGFHash: mgf, Label: p.Label}
	}
	pub, err := publicKey(p11.CKK_RSA, o.attrs)
	if err != nil {
		return nil, err
	}
	rc.pub = pub.(*rsa.PublicKey)
	op := &cryptOp{decrypt: decrypt, rsa: rc}
	if decrypt {
		op.key = o.key.Blob
	}
	return op, nil
}

// rsaSingle runs a single-part RSA operation.
func (s *Server) rsaSingle(op *cryptOp, data []byte) ([]byte, error) {
	rc := op.rsa
	if op.decrypt {
		if len(data) != rc.pub.Size() {
			return nil, p11.CKR_ENCRYPTED_DATA_LEN_RANGE
		}
		out, err := s.tpm.RSADecrypt(op.key, op.auth, data, rc.oaep)
		switch {
		case errors.Is(err, tpm.ErrDecrypt):
			return nil, p11.CKR_ENCRYPTED_DATA_INVALID
		case errors.Is(err, tpm.ErrUnsupported):
			return nil, p11.CKR_MECHANISM_PARAM_INVALID
		}
		return out, err
	}
	var out []byte
	var err error
	if rc.oaep != nil {
		out, err = rsa.EncryptOAEPWithOptions(rand.Reader, rc.pub, data, rc.oaep)
	} else {
		//lint:ignore SA1019 CKM_RSA_PKCS is PKCS #1 v1.5 encryption, which applications ask for by name
		out, err = rsa.EncryptPKCS1v15(rand.Reader, rc.pub, data)
	}
	if errors.Is(err, rsa.ErrMessageTooLong) {
		return nil, p11.CKR_DATA_LEN_RANGE
	}
	return out, err
}
