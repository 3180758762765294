package server

import "tep.dev/tep/p11"

// The handlers of C_Encrypt* and C_Decrypt*. Each answers a NULL or short
// output buffer with the length it needs and leaves the operation as it
// was; any other error ends the operation, as PKCS#11 wants.

func (s *Server) encryptInit(c *client, body []byte) (p11.Resp, error) {
	return s.cryptInit(c, body, false)
}

func (s *Server) decryptInit(c *client, body []byte) (p11.Resp, error) {
	return s.cryptInit(c, body, true)
}

func (s *Server) encrypt(c *client, body []byte) (p11.Resp, error)    { return s.single(c, body, false) }
func (s *Server) decrypt(c *client, body []byte) (p11.Resp, error)    { return s.single(c, body, true) }
func (s *Server) encryptUpdate(c *client, b []byte) (p11.Resp, error) { return s.part(c, b, false) }
func (s *Server) decryptUpdate(c *client, b []byte) (p11.Resp, error) { return s.part(c, b, true) }
func (s *Server) encryptFinal(c *client, b []byte) (p11.Resp, error)  { return s.last(c, b, false) }
func (s *Server) decryptFinal(c *client, b []byte) (p11.Resp, error)  { return s.last(c, b, true) }

// takeCrypt returns c's operation on session h; end ends it.
func (s *Server) takeCrypt(c *client, h uint64, decrypt, end bool) (*cryptOp, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, err := s.sessionOf(c, h)
	if err != nil {
		return nil, err
	}
	slot := &sess.encrypt
	if decrypt {
		slot = &sess.decrypt
	}
	op := *slot
	if op == nil {
		return nil, p11.CKR_OPERATION_NOT_INITIALIZED
	}
	if end {
		*slot = nil
	}
	return op, nil
}

func (s *Server) endCrypt(c *client, h uint64, op *cryptOp) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess, err := s.sessionOf(c, h); err == nil {
		if sess.encrypt == op {
			sess.encrypt = nil
		}
		if sess.decrypt == op {
			sess.decrypt = nil
		}
	}
	clear(op.auth)
}

func (s *Server) single(c *client, body []byte, decrypt bool) (p11.Resp, error) {
	var req p11.OutReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	op, err := s.takeCrypt(c, req.Session, decrypt, false)
	if err != nil {
		return nil, err
	}
	if op.rsa != nil {
		return s.rsaSingleCall(c, req, op)
	}
	if len(op.pending) != 0 {
		return nil, p11.CKR_OPERATION_ACTIVE // C_Encrypt cannot finish a multi-part operation
	}
	n, _ := op.updateLen(len(req.Data))
	probe := *op
	probe.pending = make([]byte, len(req.Data)-n)
	fin, err := probe.finalLen()
	if err != nil {
		s.endCrypt(c, req.Session, op)
		return nil, err
	}
	if r := lengthOnly(req.OutCap, n+fin); r != nil {
		return r, nil
	}
	defer s.endCrypt(c, req.Session, op)
	out, err := s.update(op, req.Data)
	if err != nil {
		return nil, err
	}
	tail, err := s.final(op)
	if err != nil {
		return nil, err
	}
	out = append(out, tail...)
	return &p11.OutResp{Out: out, Len: uint64(len(out))}, nil
}

func (s *Server) part(c *client, body []byte, decrypt bool) (p11.Resp, error) {
	var req p11.OutReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	op, err := s.takeCrypt(c, req.Session, decrypt, false)
	if err != nil {
		return nil, err
	}
	if op.rsa != nil {
		s.endCrypt(c, req.Session, op)
		return nil, p11.CKR_MECHANISM_INVALID // RSA is single-part
	}
	n, _ := op.updateLen(len(req.Data))
	if r := lengthOnly(req.OutCap, n); r != nil {
		return r, nil
	}
	out, err := s.update(op, req.Data)
	if err != nil {
		s.endCrypt(c, req.Session, op)
		return nil, err
	}
	return &p11.OutResp{Out: out, Len: uint64(len(out))}, nil
}

func (s *Server) last(c *client, body []byte, decrypt bool) (p11.Resp, error) {
	var req p11.OutReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	op, err := s.takeCrypt(c, req.Session, decrypt, false)
	if err != nil {
		return nil, err
	}
	if op.rsa != nil {
		s.endCrypt(c, req.Session, op)
		return nil, p11.CKR_MECHANISM_INVALID // RSA is single-part
	}
	n, err := op.finalLen()
	if err != nil {
		s.endCrypt(c, req.Session, op)
		return nil, err
	}
	if r := lengthOnly(req.OutCap, n); r != nil {
		return r, nil
	}
	defer s.endCrypt(c, req.Session, op)
	out, err := s.final(op)
	if err != nil {
		return nil, err
	}
	return &p11.OutResp{Out: out, Len: uint64(len(out))}, nil
}

// rsaSingleCall answers C_Encrypt/C_Decrypt of an RSA operation: the
// output is at most the modulus long.
func (s *Server) rsaSingleCall(c *client, req p11.OutReq, op *cryptOp) (p11.Resp, error) {
	if r := lengthOnly(req.OutCap, op.rsa.pub.Size()); r != nil {
		return r, nil
	}
	defer s.endCrypt(c, req.Session, op)
	out, err := s.rsaSingle(op, req.Data)
	if err != nil {
		return nil, err
	}
	return &p11.OutResp{Out: out, Len: uint64(len(out))}, nil
}
