package server

import (
	"bytes"

	"tep.dev/tep/p11"
	"tep.dev/tep/tpm"
)

// aesMechs maps the AES mechanisms to the TPM's modes.
var aesMechs = map[uint64]tpm.SymMode{
	p11.CKM_AES_ECB: tpm.ModeECB, p11.CKM_AES_CBC: tpm.ModeCBC,
	p11.CKM_AES_CBC_PAD: tpm.ModeCBC, p11.CKM_AES_CTR: tpm.ModeCTR,
}

const blockSize = 16

// pieceSize is how much AES work one TPM turn takes: a long request is
// cut, so that other ports' calls get the TPM in between.
const pieceSize = 64 << 10

// cryptOp is an AES encryption or decryption in progress. Whole blocks go
// to the TPM; a partial block waits in pending for the next part.
type cryptOp struct {
	opPhase
	decrypt bool
	mode    tpm.SymMode
	pad     bool // CKM_AES_CBC_PAD
	key     tpm.KeyBlob
	auth    []byte
	iv      []byte
	pending []byte
	rsa     *rsaCrypt // an RSA operation: single-part only
}

// cryptInit starts an encryption (or decryption) on a session.
// s.mu is held.
func (s *Server) cryptInit(c *client, sess *session, req *p11.OpInitReq, decrypt bool) (p11.Resp, error) {
	slot := &sess.encrypt
	use := uint64(p11.CKA_ENCRYPT)
	if decrypt {
		slot, use = &sess.decrypt, p11.CKA_DECRYPT
	}
	if *slot != nil {
		return nil, p11.CKR_OPERATION_ACTIVE
	}
	if req.Mechanism.Type == p11.CKM_RSA_PKCS || req.Mechanism.Type == p11.CKM_RSA_PKCS_OAEP {
		return s.rsaCryptInit(c, sess, *req, slot, use, decrypt)
	}
	mode, ok := aesMechs[req.Mechanism.Type]
	if !ok || !hasMode(s.caps, mode) {
		return nil, p11.CKR_MECHANISM_INVALID
	}
	o, err := s.objectOf(c, sess, req.Key)
	if err != nil || o.key == nil || o.ulong(p11.CKA_CLASS) != p11.CKO_SECRET_KEY {
		return nil, p11.CKR_KEY_HANDLE_INVALID
	}
	if o.ulong(p11.CKA_KEY_TYPE) != p11.CKK_AES {
		return nil, p11.CKR_KEY_TYPE_INCONSISTENT
	}
	if !o.bool(use) {
		return nil, p11.CKR_KEY_FUNCTION_NOT_PERMITTED
	}
	op := &cryptOp{decrypt: decrypt, mode: mode, pad: req.Mechanism.Type == p11.CKM_AES_CBC_PAD, key: o.key.Blob}
	if op.iv, err = aesIV(req.Mechanism); err != nil {
		return nil, err
	}
	if op.auth, err = s.keyAuth(c, sess, o); err != nil {
		return nil, err
	}
	*slot = op
	return &p11.RVResp{}, nil
}

func hasMode(caps tpm.Caps, m tpm.SymMode) bool {
	for _, x := range caps.AESModes {
		if x == m {
			return true
		}
	}
	return false
}

// aesIV reads a mechanism's IV (or counter block).
func aesIV(m p11.Mechanism) ([]byte, error) {
	switch m.Type {
	case p11.CKM_AES_ECB:
		if len(m.Param) != 0 {
			return nil, p11.CKR_MECHANISM_PARAM_INVALID
		}
		return nil, nil
	case p11.CKM_AES_CTR:
		p, err := p11.DecodeCTR(m.Param)
		if err != nil || p.CounterBits == 0 || p.CounterBits > 128 {
			return nil, p11.CKR_MECHANISM_PARAM_INVALID
		}
		return p.Block[:], nil
	}
	if len(m.Param) != blockSize {
		return nil, p11.CKR_MECHANISM_PARAM_INVALID
	}
	return bytes.Clone(m.Param), nil
}

// updateLen is what an update of n bytes returns; keep is what stays
// pending.
func (op *cryptOp) updateLen(n int) (out, keep int) {
	total := len(op.pending) + n
	out = total - total%blockSize
	if op.decrypt && op.pad && out == total && out > 0 {
		out -= blockSize // the last block may be padding: Final decides
	}
	return out, total - out
}

// finalLen is the most the final part returns, or the error it gives.
func (op *cryptOp) finalLen() (int, error) {
	n := len(op.pending)
	switch {
	case op.mode == tpm.ModeCTR:
		return n, nil
	case op.pad && !op.decrypt:
		return blockSize, nil
	case op.pad && n != blockSize:
		return 0, p11.CKR_ENCRYPTED_DATA_LEN_RANGE
	case op.pad:
		return blockSize, nil // an upper bound: the padding goes
	case n != 0 && op.decrypt:
		return 0, p11.CKR_ENCRYPTED_DATA_LEN_RANGE
	case n != 0:
		return 0, p11.CKR_DATA_LEN_RANGE
	}
	return 0, nil
}

// run passes whole blocks (or, for CTR, the final partial one) through the
// TPM in pieces, chaining the IV.
func (s *Server) run(op *cryptOp, data []byte) ([]byte, error) {
	out := make([]byte, 0, len(data))
	for len(data) > 0 {
		n := min(len(data), pieceSize)
		part, next, err := s.tpm.SymCrypt(op.key, op.auth, op.decrypt, op.mode, op.iv, data[:n])
		if err != nil {
			return nil, err
		}
		out, op.iv, data = append(out, part...), next, data[n:]
	}
	return out, nil
}

// update runs an update's whole blocks.
func (s *Server) update(op *cryptOp, data []byte) ([]byte, error) {
	buf := append(op.pending, data...)
	n, _ := op.updateLen(len(data))
	out, err := s.run(op, buf[:n])
	if err != nil {
		return nil, err
	}
	op.pending = bytes.Clone(buf[n:])
	return out, nil
}

// final finishes the operation: padding on, or off.
func (s *Server) final(op *cryptOp) ([]byte, error) {
	if _, err := op.finalLen(); err != nil {
		return nil, err
	}
	last := op.pending
	if op.pad && !op.decrypt {
		p := blockSize - len(last)%blockSize
		last = append(last, bytes.Repeat([]byte{byte(p)}, p)...)
	}
	out, err := s.run(op, last)
	if err != nil || !op.pad || !op.decrypt {
		return out, err
	}
	p := int(out[len(out)-1])
	if p == 0 || p > blockSize || !bytes.Equal(out[len(out)-p:], bytes.Repeat([]byte{byte(p)}, p)) {
		return nil, p11.CKR_ENCRYPTED_DATA_INVALID
	}
	return out[:len(out)-p], nil
}

// rsaCryptInit is cryptInit for the RSA mechanisms. s.mu is held.
func (s *Server) rsaCryptInit(c *client, sess *session, req p11.OpInitReq, slot **cryptOp, use uint64, decrypt bool) (p11.Resp, error) {
	if (req.Mechanism.Type == p11.CKM_RSA_PKCS && !s.caps.RSAES) || (req.Mechanism.Type == p11.CKM_RSA_PKCS_OAEP && !s.caps.OAEP) {
		return nil, p11.CKR_MECHANISM_INVALID
	}
	o, err := s.objectOf(c, sess, req.Key)
	if err != nil {
		return nil, p11.CKR_KEY_HANDLE_INVALID
	}
	op, err := rsaInit(req.Mechanism, o, decrypt)
	if err != nil {
		return nil, err
	}
	if !o.bool(use) {
		return nil, p11.CKR_KEY_FUNCTION_NOT_PERMITTED
	}
	if decrypt {
		if op.auth, err = s.keyAuth(c, sess, o); err != nil {
			return nil, err
		}
	}
	*slot = op
	return &p11.RVResp{}, nil
}
