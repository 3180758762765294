package main

/*
#cgo CFLAGS: -I${SRCDIR}/../c_headers
#include "pkcs11.h"
*/
import "C"

import (
	"errors"
	"unsafe"

	"tep.dev/tep/p11"
	"tep.dev/tep/provider/client"
)

// args copies one call's arguments out of C memory, after the
// initialisation check and before the call. The first bad argument
// decides the return value and ends the copying, so that no argument past
// it is touched; the variable-length ones together stay within
// maxRequest. The zero value is ready; one args serves one call.
type args struct {
	rv    C.CK_RV
	total uint64 // bytes taken from maxRequest
}

// ok reports whether every argument so far was good.
func (a *args) ok() bool { return a.rv == C.CKR_OK }

// fail records rv unless an earlier argument failed.
func (a *args) fail(rv C.CK_RV) {
	if a.rv == C.CKR_OK {
		a.rv = rv
	}
}

// need fails with CKR_ARGUMENTS_BAD unless cond holds: a required
// pointer is NULL.
func (a *args) need(cond bool) {
	if !cond {
		a.fail(C.CKR_ARGUMENTS_BAD)
	}
}

// take charges n bytes to the request, or fails with tooLarge.
func (a *args) take(n uint64, tooLarge C.CK_RV) bool {
	if !a.ok() {
		return false
	}
	if n > maxRequest-a.total {
		a.fail(tooLarge)
		return false
	}
	a.total += n
	return true
}

// bytes copies n bytes at p. A NULL p with n > 0 is CKR_ARGUMENTS_BAD;
// more bytes than the request has left is tooLarge, the code the function
// defines for an argument too long (PKCS#11 v2.40 lists them per
// function): the length is never cut.
func (a *args) bytes(p C.CK_BYTE_PTR, n C.CK_ULONG, tooLarge C.CK_RV) []byte {
	if !a.ok() || n == 0 {
		return nil
	}
	a.need(p != nil)
	if !a.take(uint64(n), tooLarge) {
		return nil
	}
	// n <= maxRequest < 2^31: C.int holds it.
	return C.GoBytes(unsafe.Pointer(p), C.int(n))
}

// view returns the n bytes at p in place, for data the client sends in
// parts (C_Digest): up to limit, not charged to the request, and valid
// only during the call.
func (a *args) view(p C.CK_BYTE_PTR, n C.CK_ULONG, limit uint64, tooLarge C.CK_RV) []byte {
	if !a.ok() || n == 0 {
		return nil
	}
	a.need(p != nil)
	if a.ok() && uint64(n) > limit {
		a.fail(tooLarge)
	}
	if !a.ok() {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n))
}

// result is a failed call's return value on session h: the session's own
// error when it is invalid, which PKCS#11 reports before any argument's,
// and otherwise the first bad argument's.
func (a *args) result(c *client.Client, h C.CK_SESSION_HANDLE) C.CK_RV {
	if _, err := c.SessionInfo(uint64(h)); err != nil {
		return ckr(err)
	}
	return a.rv
}

// ended is result for a call that continues the operation init started:
// PKCS#11 v2.40 (C_Encrypt, C_Digest, ...) ends the operation on any error
// but CKR_BUFFER_TOO_SMALL, bad arguments the edge finds included, so the
// server is told (client.EndOperation), which also reports an invalid
// session first. A notice the link fails to carry goes with the next call.
func (a *args) ended(c *client.Client, h C.CK_SESSION_HANDLE, init uint16) C.CK_RV {
	var rv p11.RV
	if err := c.EndOperation(uint64(h), init); errors.As(err, &rv) {
		return C.CK_RV(rv)
	}
	return a.rv
}

// template copies n attributes at p into the canonical wire form:
// CK_ULONGs become eight little-endian bytes whatever this platform's
// word size, CK_BBOOLs one byte, 0 or 1. More than maxAttributes entries
// is CKR_ARGUMENTS_BAD; a value past what the request has left,
// CKR_ATTRIBUTE_VALUE_INVALID.
func (a *args) template(p C.CK_ATTRIBUTE_PTR, n C.CK_ULONG) []p11.Attribute {
	if !a.ok() || n == 0 {
		return nil
	}
	a.need(p != nil && n <= maxAttributes)
	if !a.take(uint64(n)*attrOverhead, C.CKR_ARGUMENTS_BAD) {
		return nil
	}
	cs := unsafe.Slice(p, int(n))
	out := make([]p11.Attribute, len(cs))
	for i := range cs {
		out[i] = a.attribute(&cs[i])
	}
	if !a.ok() {
		return nil
	}
	return out
}

// attribute copies one template entry.
func (a *args) attribute(c *C.CK_ATTRIBUTE) p11.Attribute {
	t := uint64(c._type)
	at := p11.Attribute{Type: t}
	a.need(c.pValue != nil || c.ulValueLen == 0)
	if !a.ok() {
		return at
	}
	switch p11.AttrKind(t) {
	case p11.KindBool:
		if c.ulValueLen != 1 {
			a.fail(C.CKR_ATTRIBUTE_VALUE_INVALID)
			return at
		}
		at.Value = p11.Bool(*(*C.CK_BBOOL)(c.pValue) != 0)
	case p11.KindUlong:
		if c.ulValueLen != ulongSize {
			a.fail(C.CKR_ATTRIBUTE_VALUE_INVALID)
			return at
		}
		at.Value = p11.Ulong(uint64(*(*C.CK_ULONG)(c.pValue)))
	case p11.KindMechList:
		if c.ulValueLen%ulongSize != 0 || !a.take(uint64(c.ulValueLen/ulongSize)*8, C.CKR_ATTRIBUTE_VALUE_INVALID) {
			a.fail(C.CKR_ATTRIBUTE_VALUE_INVALID)
			return at
		}
		for _, m := range unsafe.Slice((*C.CK_ULONG)(c.pValue), int(c.ulValueLen/ulongSize)) {
			at.Value = append(at.Value, p11.Ulong(uint64(m))...)
		}
	case p11.KindTemplate:
		a.fail(C.CKR_ATTRIBUTE_TYPE_INVALID) // not offered yet
	default:
		at.Value = a.bytes((*C.CK_BYTE)(c.pValue), c.ulValueLen, C.CKR_ATTRIBUTE_VALUE_INVALID)
	}
	return at
}
