package server

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"

	"tep.dev/tep/p11"
	"tep.dev/tep/tpm"
)

// signOp is a signature in progress: the key stays in the TPM, the data
// is hashed here and the TPM signs the digest.
type signOp struct {
	opPhase
	sigData
	mech    sigMech
	key     tpm.KeyBlob
	auth    []byte
	size    int // signature length
	pssHash crypto.Hash
}

func (s *Server) signInit(c *client, sess *session, req *p11.OpInitReq) (p11.Resp, error) {
	if sess.sign != nil {
		return nil, p11.CKR_OPERATION_ACTIVE
	}
	if _, isMAC := hmacMechs[req.Mechanism.Type]; isMAC && s.caps.HMAC {
		mop, err := s.macOpFor(c, sess, *req, p11.CKA_SIGN)
		if err != nil {
			return nil, err
		}
		sess.sign = &signOp{sigData: sigData{mac: mop}, size: mop.size}
		return &p11.RVResp{}, nil
	}
	m, ok := sigMechs[req.Mechanism.Type]
	if !ok || !canSign(s.caps, req.Mechanism.Type, m) {
		return nil, p11.CKR_MECHANISM_INVALID
	}
	o, err := s.objectOf(c, sess, req.Key)
	if err != nil || o.ulong(p11.CKA_CLASS) != p11.CKO_PRIVATE_KEY || o.key == nil {
		return nil, p11.CKR_KEY_HANDLE_INVALID
	}
	if o.ulong(p11.CKA_KEY_TYPE) != m.keyType {
		return nil, p11.CKR_KEY_TYPE_INCONSISTENT
	}
	if !o.bool(p11.CKA_SIGN) {
		return nil, p11.CKR_KEY_FUNCTION_NOT_PERMITTED
	}
	auth, err := s.keyAuth(c, sess, o)
	if err != nil {
		return nil, err
	}
	op := &signOp{mech: m, key: o.key.Blob, auth: auth}
	if m.pss {
		var salt int
		if op.pssHash, salt, err = pssOptions(m, req.Mechanism.Param); err != nil {
			return nil, err
		}
		if salt != op.pssHash.Size() {
			return nil, p11.CKR_MECHANISM_PARAM_INVALID // the TPM's salt is as long as the digest
		}
	} else if len(req.Mechanism.Param) != 0 {
		return nil, p11.CKR_MECHANISM_PARAM_INVALID
	}
	if pub, err := o.key.Blob.PublicKey(); err == nil {
		op.size = sigSize(pub)
	}
	if m.hash != 0 {
		op.h = m.hash.New()
	}
	sess.sign = op
	return &p11.RVResp{}, nil
}

// sigSize is the length of a signature by pub.
func sigSize(pub crypto.PublicKey) int {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return k.Size()
	case *ecdsa.PublicKey:
		return 2 * ((k.Curve.Params().BitSize + 7) / 8)
	}
	return 0
}

func (s *Server) sign(c *client, req *p11.OutReq) (p11.Resp, error) {
	sess, op, err := take(s, c, req.Session, signSlot, stepSingle)
	if err != nil {
		return nil, err
	}
	if r := lengthOnly(req.OutCap, op.size); r != nil {
		return r, nil
	}
	defer end(s, sess, signSlot, op)
	if err := op.update(req.Data); err != nil {
		return nil, err
	}
	return s.finishSign(op)
}

func (s *Server) signUpdate(c *client, req *p11.DataReq) (p11.Resp, error) {
	return dataUpdate(s, c, req, signSlot)
}

func (s *Server) signFinal(c *client, req *p11.OutReq) (p11.Resp, error) {
	sess, op, err := take(s, c, req.Session, signSlot, stepFinal)
	if err != nil {
		return nil, err
	}
	if r := lengthOnly(req.OutCap, op.size); r != nil {
		return r, nil
	}
	defer end(s, sess, signSlot, op)
	return s.finishSign(op)
}

// finishSign has the TPM sign what the operation gathered.
func (s *Server) finishSign(op *signOp) (p11.Resp, error) {
	if op.mac != nil {
		out, err := s.mac(op.mac)
		if err != nil {
			return nil, err
		}
		return &p11.OutResp{Out: out, Len: uint64(len(out))}, nil
	}
	digest, h := op.raw, op.mech.hash
	if op.h != nil {
		digest = op.h.Sum(nil)
	}
	var opts crypto.SignerOpts = h
	switch {
	case op.mech.keyType == p11.CKK_RSA && !op.mech.pss && h == 0:
		// CKM_RSA_PKCS: the caller hashed and wrapped the digest in a
		// DigestInfo (OpenSSL's engine does). The TPM wraps its own, so
		// hand it the digest and the hash the DigestInfo names: the
		// signature is the same bytes.
		var ok bool
		if h, digest, ok = digestInfo(digest); !ok {
			return nil, p11.CKR_DATA_INVALID
		}
		opts = h
	case op.mech.pss:
		h = op.pssHash
		opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}
	case h == 0: // raw ECDSA: the digest's length names its hash
		if h = hashOfSize(len(digest)); h == 0 {
			return nil, p11.CKR_DATA_LEN_RANGE
		}
		opts = h
	}
	if len(digest) != h.Size() {
		return nil, p11.CKR_DATA_LEN_RANGE
	}
	sig, err := s.tpm.Sign(op.key, op.auth, digest, opts)
	if err != nil {
		return nil, err
	}
	return &p11.OutResp{Out: sig, Len: uint64(len(sig))}, nil
}

func hashOfSize(n int) crypto.Hash {
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		if h.Size() == n {
			return h
		}
	}
	return 0
}

// digestInfoPrefixes are the DER DigestInfo headers of the hashes the TPM
// signs with (PKCS #1 v2.2, 9.2, note 1).
var digestInfoPrefixes = map[crypto.Hash][]byte{
	crypto.SHA1:   {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14},
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}

// digestInfo splits a DER DigestInfo into its hash and digest.
func digestInfo(b []byte) (crypto.Hash, []byte, bool) {
	for h, prefix := range digestInfoPrefixes {
		if len(b) == len(prefix)+h.Size() && bytes.HasPrefix(b, prefix) {
			return h, b[len(prefix):], true
		}
	}
	return 0, nil, false
}
