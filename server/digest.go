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
	opPhase
	h hash.Hash
}

var digests = map[uint64]func() hash.Hash{
	p11.CKM_SHA_1:  sha1.New,
	p11.CKM_SHA256: sha256.New,
	p11.CKM_SHA384: sha512.New384,
	p11.CKM_SHA512: sha512.New,
}

func (s *Server) generateRandom(c *client, req *p11.GenerateRandomReq) (p11.Resp, error) {
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

func (s *Server) seedRandom(c *client, req *p11.DataReq) (p11.Resp, error) {
	s.mu.Lock()
	_, err := s.sessionOf(c, req.Session)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return &p11.RVResp{}, s.tpm.StirRandom(req.Data)
}

func (s *Server) digestInit(c *client, sess *session, req *p11.OpInitReq) (p11.Resp, error) {
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

func (s *Server) digest(c *client, req *p11.OutReq) (p11.Resp, error) {
	sess, op, err := take(s, c, req.Session, digestSlot, stepSingle)
	if err != nil {
		return nil, err
	}
	if r := lengthOnly(req.OutCap, op.h.Size()); r != nil {
		return r, nil
	}
	op.h.Write(req.Data)
	out := op.h.Sum(nil)
	end(s, sess, digestSlot, op)
	return &p11.OutResp{Out: out, Len: uint64(len(out))}, nil
}

func (s *Server) digestUpdate(c *client, req *p11.DataReq) (p11.Resp, error) {
	_, op, err := take(s, c, req.Session, digestSlot, stepUpdate)
	if err != nil {
		return nil, err
	}
	op.h.Write(req.Data)
	return &p11.RVResp{}, nil
}

// digestMore hashes a part of a long C_Digest (p11.FnDigestMore).
func (s *Server) digestMore(c *client, req *p11.DataReq) (p11.Resp, error) {
	_, op, err := take(s, c, req.Session, digestSlot, stepSingle)
	if err != nil {
		return nil, err
	}
	op.h.Write(req.Data)
	return &p11.RVResp{}, nil
}

func (s *Server) digestFinal(c *client, req *p11.OutReq) (p11.Resp, error) {
	sess, op, err := take(s, c, req.Session, digestSlot, stepFinal)
	if err != nil {
		return nil, err
	}
	if r := lengthOnly(req.OutCap, op.h.Size()); r != nil {
		return r, nil
	}
	out := op.h.Sum(nil)
	end(s, sess, digestSlot, op)
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

// digestKey is C_DigestKey. Every secret key here lives in the TPM, whose
// keys never leave it in the clear: none can be digested. PKCS#11 v2.40,
// C_DigestKey, allows CKR_KEY_INDIGESTIBLE for that, and as an error it
// ends the digest (endOnError). s.mu is held.
func (s *Server) digestKey(c *client, sess *session, req *p11.ObjectReq) (p11.Resp, error) {
	if sess.digest == nil {
		return nil, p11.CKR_OPERATION_NOT_INITIALIZED
	}
	if err := sess.digest.enter(stepUpdate); err != nil {
		return nil, err
	}
	o, err := s.objectOf(c, sess, req.Object)
	if err != nil || o.ulong(p11.CKA_CLASS) != p11.CKO_SECRET_KEY {
		return nil, p11.CKR_KEY_HANDLE_INVALID
	}
	return nil, p11.CKR_KEY_INDIGESTIBLE
}
