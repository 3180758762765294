package server

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"hash"

	"tep.dev/tep/p11"
)

// digestOp is a digest operation in progress on a session. Digests run in
// software: they need no secret, and the TPM would only be slower.
type digestOp struct {
	h hash.Hash
}

var digests = map[uint64]func() hash.Hash{
	p11.CKM_SHA_1:  sha1.New,
	p11.CKM_SHA256: sha256.New,
	p11.CKM_SHA384: sha512.New384,
	p11.CKM_SHA512: sha512.New,
}

func (s *Server) generateRandom(c *client, body []byte) (p11.Resp, error) {
	var req p11.GenerateRandomReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	s.mu.Lock()
	_, err := s.sessionOf(c, req.Session)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if req.Len > MaxRandom {
		return nil, p11.CKR_ARGUMENTS_BAD // the provider splits longer requests
	}
	data, err := s.tpm.GetRandom(int(req.Len))
	if err != nil {
		return nil, err
	}
	return &p11.DataResp{Data: data}, nil
}

func (s *Server) seedRandom(c *client, body []byte) (p11.Resp, error) {
	var req p11.DataReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	s.mu.Lock()
	_, err := s.sessionOf(c, req.Session)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return &p11.RVResp{}, s.tpm.StirRandom(req.Data)
}

func (s *Server) digestInit(c *client, body []byte) (p11.Resp, error) {
	var req p11.OpInitReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, err := s.sessionOf(c, req.Session)
	if err != nil {
		return nil, err
	}
	if sess.digest != nil {
		return nil, p11.CKR_OPERATION_ACTIVE
	}
	newHash, ok := digests[req.Mechanism.Type]
	if !ok {
		return nil, p11.CKR_MECHANISM_INVALID
	}
	if len(req.Mechanism.Param) != 0 {
		return nil, p11.CKR_MECHANISM_PARAM_INVALID
	}
	sess.digest = &digestOp{h: newHash()}
	return &p11.RVResp{}, nil
}

// digestSession returns c's session with its digest operation. s.mu is held.
func (s *Server) digestSession(c *client, h uint64) (*session, error) {
	sess, err := s.sessionOf(c, h)
	if err != nil {
		return nil, err
	}
	if sess.digest == nil {
		return nil, p11.CKR_OPERATION_NOT_INITIALIZED
	}
	return sess, nil
}

// The digest calls hash outside s.mu, so a long digest on one port does
// not hold up the others. PKCS#11 lets one thread at a time use a session,
// so the operation itself needs no lock of its own.

// takeDigest returns c's digest operation on session h and, when sized,
// the early answer for an output buffer that cannot hold the digest.
func (s *Server) takeDigest(c *client, h uint64, outCap int64, sized bool) (sess *session, op *digestOp, early *p11.OutResp, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess, err = s.digestSession(c, h); err != nil {
		return nil, nil, nil, err
	}
	if sized {
		early = lengthOnly(outCap, sess.digest.h.Size())
	}
	return sess, sess.digest, early, nil
}

// endDigest ends op on sess, unless another operation replaced it.
func (s *Server) endDigest(sess *session, op *digestOp) {
	s.mu.Lock()
	if sess.digest == op {
		sess.digest = nil
	}
	s.mu.Unlock()
}

func (s *Server) digest(c *client, body []byte) (p11.Resp, error) {
	var req p11.OutReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	sess, op, early, err := s.takeDigest(c, req.Session, req.OutCap, true)
	if err != nil || early != nil {
		return early, err
	}
	op.h.Write(req.Data)
	out := op.h.Sum(nil)
	s.endDigest(sess, op)
	return &p11.OutResp{Out: out, Len: uint64(len(out))}, nil
}

func (s *Server) digestUpdate(c *client, body []byte) (p11.Resp, error) {
	var req p11.DataReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	_, op, _, err := s.takeDigest(c, req.Session, 0, false)
	if err != nil {
		return nil, err
	}
	op.h.Write(req.Data)
	return &p11.RVResp{}, nil
}

func (s *Server) digestFinal(c *client, body []byte) (p11.Resp, error) {
	var req p11.OutReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	sess, op, early, err := s.takeDigest(c, req.Session, req.OutCap, true)
	if err != nil || early != nil {
		return early, err
	}
	out := op.h.Sum(nil)
	s.endDigest(sess, op)
	return &p11.OutResp{Out: out, Len: uint64(len(out))}, nil
}

// lengthOnly answers a NULL (outCap < 0) or short output buffer with the
// length needed, leaving the operation active; nil means the buffer fits.
func lengthOnly(outCap int64, need int) *p11.OutResp {
	switch {
	case outCap < 0:
		return &p11.OutResp{Len: uint64(need)}
	case outCap < int64(need):
		return &p11.OutResp{RV: p11.CKR_BUFFER_TOO_SMALL, Len: uint64(need)}
	}
	return nil
}
