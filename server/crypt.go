package server

import "tep.dev/tep/p11"

// The handlers of C_Encrypt* and C_Decrypt*. Each answers a NULL or short
// output buffer with the length it needs and leaves the operation as it
// was; any other error ends the operation, as PKCS#11 wants.

func (s *Server) encryptInit(c *client, sess *session, req *p11.OpInitReq) (p11.Resp, error) {
	return s.cryptInit(c, sess, req, false)
}

func (s *Server) decryptInit(c *client, sess *session, req *p11.OpInitReq) (p11.Resp, error) {
	return s.cryptInit(c, sess, req, true)
}

func (s *Server) encrypt(c *client, r *p11.OutReq) (p11.Resp, error) { return s.single(c, r, false) }
func (s *Server) decrypt(c *client, r *p11.OutReq) (p11.Resp, error) { return s.single(c, r, true) }
func (s *Server) encryptUpdate(c *client, r *p11.OutReq) (p11.Resp, error) {
	return s.part(c, r, false)
}
func (s *Server) decryptUpdate(c *client, r *p11.OutReq) (p11.Resp, error) { return s.part(c, r, true) }
func (s *Server) encryptFinal(c *client, r *p11.OutReq) (p11.Resp, error)  { return s.last(c, r, false) }
func (s *Server) decryptFinal(c *client, r *p11.OutReq) (p11.Resp, error)  { return s.last(c, r, true) }

func (s *Server) single(c *client, req *p11.OutReq, decrypt bool) (p11.Resp, error) {
	slot := cryptSlot(decrypt)
	sess, op, err := take(s, c, req.Session, slot, stepSingle)
	if err != nil {
		return nil, err
	}
	if op.rsa != nil {
		return s.rsaSingleCall(sess, slot, req, op)
	}
	if len(op.pending) != 0 {
		return nil, p11.CKR_OPERATION_ACTIVE // C_Encrypt cannot finish a multi-part operation
	}
	n, _ := op.updateLen(len(req.Data))
	probe := *op
	probe.pending = make([]byte, len(req.Data)-n)
	fin, err := probe.finalLen()
	if err != nil {
		end(s, sess, slot, op)
		return nil, err
	}
	if r := lengthOnly(req.OutCap, n+fin); r != nil {
		return r, nil
	}
	defer end(s, sess, slot, op)
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

func (s *Server) part(c *client, req *p11.OutReq, decrypt bool) (p11.Resp, error) {
	slot := cryptSlot(decrypt)
	sess, op, err := take(s, c, req.Session, slot, stepUpdate)
	if err != nil {
		return nil, err
	}
	if op.rsa != nil {
		end(s, sess, slot, op)
		return nil, p11.CKR_MECHANISM_INVALID // RSA is single-part
	}
	n, _ := op.updateLen(len(req.Data))
	if r := lengthOnly(req.OutCap, n); r != nil {
		return r, nil
	}
	out, err := s.update(op, req.Data)
	if err != nil {
		end(s, sess, slot, op)
		return nil, err
	}
	return &p11.OutResp{Out: out, Len: uint64(len(out))}, nil
}

func (s *Server) last(c *client, req *p11.OutReq, decrypt bool) (p11.Resp, error) {
	slot := cryptSlot(decrypt)
	sess, op, err := take(s, c, req.Session, slot, stepFinal)
	if err != nil {
		return nil, err
	}
	if op.rsa != nil {
		end(s, sess, slot, op)
		return nil, p11.CKR_MECHANISM_INVALID // RSA is single-part
	}
	n, err := op.finalLen()
	if err != nil {
		end(s, sess, slot, op)
		return nil, err
	}
	if r := lengthOnly(req.OutCap, n); r != nil {
		return r, nil
	}
	defer end(s, sess, slot, op)
	out, err := s.final(op)
	if err != nil {
		return nil, err
	}
	return &p11.OutResp{Out: out, Len: uint64(len(out))}, nil
}

// rsaSingleCall answers C_Encrypt/C_Decrypt of an RSA operation: the
// output is at most the modulus long.
func (s *Server) rsaSingleCall(sess *session, slot opSlot[*cryptOp], req *p11.OutReq, op *cryptOp) (p11.Resp, error) {
	if r := lengthOnly(req.OutCap, op.rsa.pub.Size()); r != nil {
		return r, nil
	}
	defer end(s, sess, slot, op)
	out, err := s.rsaSingle(op, req.Data)
	if err != nil {
		return nil, err
	}
	return &p11.OutResp{Out: out, Len: uint64(len(out))}, nil
}
