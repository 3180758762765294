package p11

// FnEndOperation ends the operation a session has in progress of one kind
// (EndOperationReq); it is not a PKCS#11 function. The client sends it
// when a call of that operation failed before it reached the server or
// without its answer: the caller's bad arguments, or a broken link. PKCS#11
// v2.40 (C_Encrypt, C_Sign, C_Digest, ...) ends the operation on any error
// but CKR_BUFFER_TOO_SMALL, and the server must learn of the errors it did
// not see. Ending no operation is no error.
const FnEndOperation uint16 = 0x101

// FnDigestMore carries a part of a C_Digest too long for one message
// (DataReq); the last part travels as FnDigest, which returns the digest.
// The operation stays a single-part one: no C_DigestUpdate or
// C_DigestFinal may join it. It is not a PKCS#11 function.
const FnDigestMore uint16 = 0x102

// EndOperationReq names a session and the kind of operation to end, by
// its init function (FnEncryptInit, FnDigestInit, ...).
type EndOperationReq struct {
	Session uint64
	Init    uint16
}

// SessionHandle returns the session the call is made on.
func (r *EndOperationReq) SessionHandle() uint64 { return r.Session }

// operationOf maps the functions that continue an operation to the
// function that starts it.
var operationOf = map[uint16]uint16{
	FnEncrypt: FnEncryptInit, FnEncryptUpdate: FnEncryptInit, FnEncryptFinal: FnEncryptInit,
	FnDecrypt: FnDecryptInit, FnDecryptUpdate: FnDecryptInit, FnDecryptFinal: FnDecryptInit,
	FnDigest: FnDigestInit, FnDigestMore: FnDigestInit, FnDigestUpdate: FnDigestInit, FnDigestKey: FnDigestInit, FnDigestFinal: FnDigestInit,
	FnSign: FnSignInit, FnSignUpdate: FnSignInit, FnSignFinal: FnSignInit,
	FnVerify: FnVerifyInit, FnVerifyUpdate: FnVerifyInit, FnVerifyFinal: FnVerifyInit,
}

// OperationOf returns the init function of the operation fn continues
// (C_EncryptUpdate: FnEncryptInit), and false for a function that
// continues none.
func OperationOf(fn uint16) (init uint16, ok bool) {
	init, ok = operationOf[fn]
	return init, ok
}

// IsOperationInit says whether fn starts an operation that
// FnEndOperation ends.
func IsOperationInit(fn uint16) bool {
	switch fn {
	case FnEncryptInit, FnDecryptInit, FnDigestInit, FnSignInit, FnVerifyInit:
		return true
	}
	return false
}

// OnSession is a request made on a session: the server finds the session
// before it reads the rest.
type OnSession interface {
	SessionHandle() uint64
}

// SessionHandle returns the session the call is made on.
func (r *SessionReq) SessionHandle() uint64 { return r.Session }

// SessionHandle returns the session the call is made on.
func (r *InitPINReq) SessionHandle() uint64 { return r.Session }

// SessionHandle returns the session the call is made on.
func (r *SetPINReq) SessionHandle() uint64 { return r.Session }

// SessionHandle returns the session the call is made on.
func (r *LoginReq) SessionHandle() uint64 { return r.Session }

// SessionHandle returns the session the call is made on.
func (r *GenerateRandomReq) SessionHandle() uint64 { return r.Session }

// SessionHandle returns the session the call is made on.
func (r *OpInitReq) SessionHandle() uint64 { return r.Session }

// SessionHandle returns the session the call is made on.
func (r *DataReq) SessionHandle() uint64 { return r.Session }

// SessionHandle returns the session the call is made on.
func (r *OutReq) SessionHandle() uint64 { return r.Session }

// SessionHandle returns the session the call is made on.
func (r *TemplateReq) SessionHandle() uint64 { return r.Session }

// SessionHandle returns the session the call is made on.
func (r *ObjectReq) SessionHandle() uint64 { return r.Session }

// SessionHandle returns the session the call is made on.
func (r *GetAttrReq) SessionHandle() uint64 { return r.Session }

// SessionHandle returns the session the call is made on.
func (r *FindReq) SessionHandle() uint64 { return r.Session }

// SessionHandle returns the session the call is made on.
func (r *VerifyReq) SessionHandle() uint64 { return r.Session }

// SessionHandle returns the session the call is made on.
func (r *KeyPairReq) SessionHandle() uint64 { return r.Session }

// SessionHandle returns the session the call is made on.
func (r *KeyReq) SessionHandle() uint64 { return r.Session }

// SessionHandle returns the session the call is made on.
func (r *WrapReq) SessionHandle() uint64 { return r.Session }
