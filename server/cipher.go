package server

import (
	"bytes"
	"slices"

	"tep.dev/tep/p11"
	"tep.dev/tep/tpm"
)

// blockCipher is a block cipher the TPM runs: AES, or TDES where the TPM
// has it (TPM 2.0 Part 2, 11.1.5; single DES it never has).
type blockCipher struct {
	block    int                          // the block, and IV, size
	keyTypes []uint64                     // the CKK_ types its mechanisms take
	modes    func(tpm.Caps) []tpm.SymMode // the TPM's modes of it
}

var (
	aesCipher  = &blockCipher{16, []uint64{p11.CKK_AES}, func(c tpm.Caps) []tpm.SymMode { return c.AESModes }}
	tdesCipher = &blockCipher{8, []uint64{p11.CKK_DES3, p11.CKK_DES2}, func(c tpm.Caps) []tpm.SymMode { return c.TDESModes }}
)

// symMech is an encryption mechanism of a block cipher.
type symMech struct {
	cipher *blockCipher
	mode   tpm.SymMode
	pad    bool // PKCS#7 padding, done here (PKCS#11 v2.40, CKM_AES_CBC_PAD)
}

// symMechs are the block-cipher mechanisms the server knows.
var symMechs = map[uint64]symMech{
	p11.CKM_AES_ECB: {aesCipher, tpm.ModeECB, false}, p11.CKM_AES_CBC: {aesCipher, tpm.ModeCBC, false},
	p11.CKM_AES_CBC_PAD: {aesCipher, tpm.ModeCBC, true}, p11.CKM_AES_CTR: {aesCipher, tpm.ModeCTR, false},
	p11.CKM_DES3_ECB: {tdesCipher, tpm.ModeECB, false}, p11.CKM_DES3_CBC: {tdesCipher, tpm.ModeCBC, false},
	p11.CKM_DES3_CBC_PAD: {tdesCipher, tpm.ModeCBC, true},
}

// offered reports whether a TPM with caps runs m.
func (m symMech) offered(caps tpm.Caps) bool {
	return slices.Contains(m.cipher.modes(caps), m.mode)
}

// pieceSize is how much block-cipher work one TPM turn takes: a long
// request is cut, so that other ports' calls get the TPM in between.
const pieceSize = 64 << 10

// cryptOp is a block-cipher encryption or decryption in progress. Whole
// blocks go to the TPM; a partial block waits in pending for the next part.
type cryptOp struct {
	opPhase
	decrypt bool
	mode    tpm.SymMode
	block   int  // the cipher's block size
	pad     bool // CKM_AES_CBC_PAD, CKM_DES3_CBC_PAD
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
	m, ok := symMechs[req.Mechanism.Type]
	if !ok || !m.offered(s.caps) {
		return nil, p11.CKR_MECHANISM_INVALID
	}
	o, err := s.objectOf(c, sess, req.Key)
	if err != nil || o.key == nil || o.ulong(p11.CKA_CLASS) != p11.CKO_SECRET_KEY {
		return nil, p11.CKR_KEY_HANDLE_INVALID
	}
	if !slices.Contains(m.cipher.keyTypes, o.ulong(p11.CKA_KEY_TYPE)) {
		return nil, p11.CKR_KEY_TYPE_INCONSISTENT
	}
	if !o.bool(use) {
		return nil, p11.CKR_KEY_FUNCTION_NOT_PERMITTED
	}
	op := &cryptOp{decrypt: decrypt, mode: m.mode, block: m.cipher.block, pad: m.pad, key: o.key.Blob}
	if op.iv, err = symIV(req.Mechanism, m); err != nil {
		return nil, err
	}
	if op.auth, err = s.keyAuth(c, sess, o); err != nil {
		return nil, err
	}
	*slot = op
	return &p11.RVResp{}, nil
}

// symIV reads a mechanism's IV (or counter block).
func symIV(p p11.Mechanism, m symMech) ([]byte, error) {
	switch m.mode {
	case tpm.ModeECB:
		if len(p.Param) != 0 {
			return nil, p11.CKR_MECHANISM_PARAM_INVALID
		}
		return nil, nil
	case tpm.ModeCTR:
		c, err := p11.DecodeCTR(p.Param)
		if err != nil || c.CounterBits == 0 || c.CounterBits > 128 {
			return nil, p11.CKR_MECHANISM_PARAM_INVALID
		}
		return c.Block[:], nil
	}
	if len(p.Param) != m.cipher.block {
		return nil, p11.CKR_MECHANISM_PARAM_INVALID
	}
	return bytes.Clone(p.Param), nil
}

// updateLen is what an update of n bytes returns; keep is what stays
// pending.
func (op *cryptOp) updateLen(n int) (out, keep int) {
	total := len(op.pending) + n
	out = total - total%op.block
	if op.decrypt && op.pad && out == total && out > 0 {
		out -= op.block // the last block may be padding: Final decides
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
		return op.block, nil
	case op.pad && n != op.block:
		return 0, p11.CKR_ENCRYPTED_DATA_LEN_RANGE
	case op.pad:
		return op.block, nil // an upper bound: the padding goes
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
		p := op.block - len(last)%op.block
		last = append(last, bytes.Repeat([]byte{byte(p)}, p)...)
	}
	out, err := s.run(op, last)
	if err != nil || !op.pad || !op.decrypt {
		return out, err
	}
	p := int(out[len(out)-1])
	if p == 0 || p > op.block || !bytes.Equal(out[len(out)-p:], bytes.Repeat([]byte{byte(p)}, p)) {
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
