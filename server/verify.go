package server

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"hash"
	"math/big"

	"tep.dev/tep/p11"
)

// verifyOp is a verification in progress. Verification needs no secret:
// it runs in software on the server, against the public key's attributes.
type verifyOp struct {
	opPhase
	sigData
	mech    sigMech
	pub     crypto.PublicKey
	pssHash crypto.Hash
	salt    int
}

// sigData is where the data of a signature or verification goes: into
// an HMAC in the TPM, a hash, or, for a raw mechanism, a buffer.
type sigData struct {
	mac *macOp    // an HMAC mechanism: computed or checked in the TPM
	h   hash.Hash // hashing mechanisms
	raw []byte    // a raw mechanism's digest or DigestInfo, gathered by updates
}

// maxRawData bounds the data a raw mechanism gathers over updates: it is a
// digest or a DigestInfo, never long.
const maxRawData = 1 << 10

func (s *Server) verifyInit(c *client, sess *session, req *p11.OpInitReq) (p11.Resp, error) {
	if sess.verify != nil {
		return nil, p11.CKR_OPERATION_ACTIVE
	}
	if _, isMAC := hmacMechs[req.Mechanism.Type]; isMAC && s.caps.HMAC {
		mop, err := s.macOpFor(c, sess, *req, p11.CKA_VERIFY)
		if err != nil {
			return nil, err
		}
		sess.verify = &verifyOp{sigData: sigData{mac: mop}}
		return &p11.RVResp{}, nil
	}
	m, ok := sigMechs[req.Mechanism.Type]
	if !ok {
		return nil, p11.CKR_MECHANISM_INVALID
	}
	o, err := s.objectOf(c, sess, req.Key)
	if err != nil || o.ulong(p11.CKA_CLASS) != p11.CKO_PUBLIC_KEY {
		return nil, p11.CKR_KEY_HANDLE_INVALID
	}
	if o.ulong(p11.CKA_KEY_TYPE) != m.keyType {
		return nil, p11.CKR_KEY_TYPE_INCONSISTENT
	}
	if !o.bool(p11.CKA_VERIFY) {
		return nil, p11.CKR_KEY_FUNCTION_NOT_PERMITTED
	}
	op := &verifyOp{mech: m}
	if op.pub, err = publicKey(m.keyType, o.attrs); err != nil {
		return nil, err
	}
	if m.pss {
		if op.pssHash, op.salt, err = pssOptions(m, req.Mechanism.Param); err != nil {
			return nil, err
		}
	} else if len(req.Mechanism.Param) != 0 {
		return nil, p11.CKR_MECHANISM_PARAM_INVALID
	}
	if m.hash != 0 {
		op.h = m.hash.New()
	}
	sess.verify = op
	return &p11.RVResp{}, nil
}

func (s *Server) verify(c *client, req *p11.VerifyReq) (p11.Resp, error) {
	sess, op, err := take(s, c, req.Session, verifySlot, stepSingle)
	if err != nil {
		return nil, err
	}
	end(s, sess, verifySlot, op) // a verifying call ends the operation, whatever its outcome
	if err := op.update(req.Data); err != nil {
		return nil, err
	}
	return &p11.RVResp{}, s.checkSig(op, req.Signature)
}

// checkSig finishes a verification: an HMAC in the TPM, a signature here.
func (s *Server) checkSig(op *verifyOp, sig []byte) error {
	if op.mac != nil {
		return s.macCheck(op.mac, sig)
	}
	return op.check(sig)
}

func (s *Server) verifyUpdate(c *client, req *p11.DataReq) (p11.Resp, error) {
	return dataUpdate(s, c, req, verifySlot)
}

func (s *Server) verifyFinal(c *client, req *p11.VerifyReq) (p11.Resp, error) {
	sess, op, err := take(s, c, req.Session, verifySlot, stepFinal)
	if err != nil {
		return nil, err
	}
	end(s, sess, verifySlot, op) // a verifying call ends the operation, whatever its outcome
	return &p11.RVResp{}, s.checkSig(op, req.Signature)
}

func (op *sigData) update(data []byte) error {
	if op.mac != nil {
		return op.mac.update(data)
	}
	if op.h != nil {
		op.h.Write(data)
		return nil
	}
	if len(op.raw)+len(data) > maxRawData {
		return p11.CKR_DATA_LEN_RANGE
	}
	op.raw = append(op.raw, data...)
	return nil
}

// check verifies sig over what the operation gathered.
func (op *verifyOp) check(sig []byte) error {
	digest := op.raw
	if op.h != nil {
		digest = op.h.Sum(nil)
	}
	switch pub := op.pub.(type) {
	case *rsa.PublicKey:
		if len(sig) != pub.Size() {
			return p11.CKR_SIGNATURE_LEN_RANGE
		}
		var err error
		switch {
		case op.mech.pss:
			if op.h == nil && len(digest) != op.pssHash.Size() {
				return p11.CKR_DATA_LEN_RANGE
			}
			err = rsa.VerifyPSS(pub, op.pssHash, digest, sig, &rsa.PSSOptions{SaltLength: op.salt, Hash: op.pssHash})
		default:
			if op.h == nil && len(digest) > pub.Size()-11 {
				return p11.CKR_DATA_LEN_RANGE
			}
			err = rsa.VerifyPKCS1v15(pub, op.mech.hash, digest, sig)
		}
		if err != nil {
			return p11.CKR_SIGNATURE_INVALID
		}
	case *ecdsa.PublicKey:
		n := (pub.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*n {
			return p11.CKR_SIGNATURE_LEN_RANGE
		}
		r, s := new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])
		if !ecdsa.Verify(pub, digest, r, s) {
			return p11.CKR_SIGNATURE_INVALID
		}
	default:
		return p11.CKR_KEY_TYPE_INCONSISTENT
	}
	return nil
}
