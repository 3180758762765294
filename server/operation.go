package server

import (
	"errors"

	"tep.dev/tep/p11"
)

// An operation is a digest, signature, verification, encryption or
// decryption in progress on a session; wipe forgets the secrets it holds
// once it ends.
type operation interface {
	*digestOp | *signOp | *verifyOp | *cryptOp
	wipe()
	at() *opPhase
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

// take returns c's session h and its operation in slot, moved to step st.
func take[Op operation](s *Server, c *client, h uint64, slot opSlot[Op], st step) (*session, Op, error) {
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
	if err := op.at().enter(st); err != nil {
		return nil, nil, err
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

// An updater is an operation that takes its data in parts through
// update: a signature or a verification.
type updater interface {
	operation
	update(data []byte) error
}

// dataUpdate is C_SignUpdate and C_VerifyUpdate: a part of the data into
// the operation in slot. A failure ends the operation (PKCS#11 v2.40,
// C_SignUpdate: "a call ... which results in an error terminates the
// current signature operation"; C_VerifyUpdate likewise).
func dataUpdate[Op updater](s *Server, c *client, req *p11.DataReq, slot opSlot[Op]) (p11.Resp, error) {
	sess, op, err := take(s, c, req.Session, slot, stepUpdate)
	if err != nil {
		return nil, err
	}
	if err := op.update(req.Data); err != nil {
		end(s, sess, slot, op)
		return nil, err
	}
	return &p11.RVResp{}, nil
}

func (op *digestOp) wipe() {}
func (op *signOp) wipe()   { clear(op.auth) }
func (op *verifyOp) wipe() {}
func (op *cryptOp) wipe()  { clear(op.auth) }

// opPhase is how far an operation went. PKCS#11 v2.40, C_Digest (and
// likewise C_Sign, C_Verify, C_Encrypt, C_Decrypt): the single-part call
// "cannot be used to terminate a multi-part operation, and must be called
// after C_DigestInit without intervening C_DigestUpdate calls"; and a
// single-part call that only returned the length it needs leaves the
// operation to the same call (PKCS#11 v2.40, 5.2), so neither an update
// nor a final part may follow it.
type opPhase struct {
	multi  bool // an update ran
	single bool // the single-part call ran (a length query, then)
}

func (p *opPhase) at() *opPhase { return p }

// A step is the kind of call that continues an operation.
type step int

const (
	stepSingle step = iota // C_Digest, C_Sign, C_Encrypt, ...
	stepUpdate             // C_DigestUpdate, C_DigestKey, ...
	stepFinal              // C_DigestFinal, ...
)

// enter moves an operation to step, or answers CKR_OPERATION_ACTIVE when
// the operation is in a phase that does not allow it. s.mu is held.
func (p *opPhase) enter(st step) error {
	switch {
	case st == stepSingle && p.multi, st != stepSingle && p.single:
		return p11.CKR_OPERATION_ACTIVE
	case st == stepSingle:
		p.single = true
	case st == stepUpdate:
		p.multi = true
	}
	return nil
}

// drop ends the operation in slot, if any. s.mu is held.
func drop[Op operation](sess *session, slot opSlot[Op]) {
	if op := *slot(sess); op != nil {
		*slot(sess) = nil
		op.wipe()
	}
}

// endOnError ends the operation a failed call to fn on session h
// continued: PKCS#11 v2.40 (C_Encrypt, C_Digest, C_Sign, ...) ends it on
// any error but CKR_BUFFER_TOO_SMALL. CKR_OPERATION_ACTIVE is no
// exception to that rule in the text, but it says the operation is there
// and waits for another call (see opPhase): ending it would make the
// answer false, so it stays.
func (s *Server) endOnError(c *client, fn uint16, h uint64, err error) {
	init, ok := p11.OperationOf(fn)
	if !ok || errors.Is(err, p11.CKR_OPERATION_ACTIVE) || errors.Is(err, p11.CKR_SESSION_HANDLE_INVALID) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess, err := s.sessionOf(c, h); err == nil {
		s.dropKind(sess, init)
	}
}

// dropKind ends sess's operation of the kind init starts; false for a
// function that starts none. s.mu is held.
func (s *Server) dropKind(sess *session, init uint16) bool {
	switch init {
	case p11.FnDigestInit:
		drop(sess, digestSlot)
	case p11.FnSignInit:
		drop(sess, signSlot)
	case p11.FnVerifyInit:
		drop(sess, verifySlot)
	case p11.FnEncryptInit:
		drop(sess, encryptSlot)
	case p11.FnDecryptInit:
		drop(sess, decryptSlot)
	default:
		return false
	}
	return true
}

// endOperation answers FnEndOperation: the client saw a call of the
// operation fail where the server could not (see p11.FnEndOperation).
func (s *Server) endOperation(c *client, sess *session, req *p11.EndOperationReq) (p11.Resp, error) {
	if !s.dropKind(sess, req.Init) {
		return nil, p11.CKR_ARGUMENTS_BAD
	}
	return &p11.RVResp{}, nil
}
