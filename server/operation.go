package server

import "tep.dev/tep/p11"

// An operation is a digest, signature, verification, encryption or
// decryption in progress on a session; wipe forgets the secrets it holds
// once it ends.
type operation interface {
	*digestOp | *signOp | *verifyOp | *cryptOp
	wipe()
}

// An opSlot is where a session keeps one kind of operation.
type opSlot[Op operation] func(*session) *Op

func digestSlot(sess *session) **digestOp { return &sess.digest }
func signSlot(sess *session) **signOp     { return &sess.sign }
func verifySlot(sess *session) **verifyOp { return &sess.verify }
func encryptSlot(sess *session) **cryptOp { return &sess.encrypt }
func decryptSlot(sess *session) **cryptOp { return &sess.decrypt }
func cryptSlot(decrypt bool) opSlot[*cryptOp] {
	if decrypt {
		return decryptSlot
	}
	return encryptSlot
}

// The data calls of an operation run outside s.mu, so a long digest or TPM
// command on one port does not hold up the others. PKCS#11 lets one thread
// at a time use a session, so the operation itself needs no lock.

// take returns c's session h and its operation in slot.
func take[Op operation](s *Server, c *client, h uint64, slot opSlot[Op]) (*session, Op, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, err := s.sessionOf(c, h)
	if err != nil {
		return nil, nil, err
	}
	op := *slot(sess)
	if op == nil {
		return nil, nil, p11.CKR_OPERATION_NOT_INITIALIZED
	}
	return sess, op, nil
}

// end ends op on sess, unless another operation replaced it, and wipes it.
func end[Op operation](s *Server, sess *session, slot opSlot[Op], op Op) {
	s.mu.Lock()
	if p := slot(sess); *p == op {
		*p = nil
	}
	s.mu.Unlock()
	op.wipe()
}

func (op *digestOp) wipe() {}
func (op *signOp) wipe()   { clear(op.auth) }
func (op *verifyOp) wipe() {}
func (op *cryptOp) wipe()  { clear(op.auth) }
