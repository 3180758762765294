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

const ulongSize = C.CK_ULONG(unsafe.Sizeof(C.CK_ULONG(0)))

// cLen is the length of a canonical value in C memory.
func cLen(t uint64, v []byte) C.CK_ULONG {
	switch p11.AttrKind(t) {
	case p11.KindUlong:
		return ulongSize
	case p11.KindMechList:
		return C.CK_ULONG(len(v)/8) * ulongSize
	}
	return C.CK_ULONG(len(v))
}

// putValue writes a canonical value into C memory of the right size.
func putValue(a *C.CK_ATTRIBUTE, v []byte) {
	switch p11.AttrKind(uint64(a._type)) {
	case p11.KindUlong:
		u, _ := p11.AsUlong(v)
		*(*C.CK_ULONG)(a.pValue) = C.CK_ULONG(u)
	case p11.KindMechList:
		dst := unsafe.Slice((*C.CK_ULONG)(a.pValue), len(v)/8)
		for i := range dst {
			u, _ := p11.AsUlong(v[8*i : 8*i+8])
			dst[i] = C.CK_ULONG(u)
		}
	default:
		copy(cBytes((*C.CK_BYTE)(a.pValue), C.CK_ULONG(len(v))), v)
	}
}

// putAttributes fills a C_GetAttributeValue template under PKCS#11's rules:
// every attribute is answered; a NULL pValue gets the length, a short one
// CK_UNAVAILABLE_INFORMATION and CKR_BUFFER_TOO_SMALL, a sensitive or
// unknown one CK_UNAVAILABLE_INFORMATION and the server's verdict.
func putAttributes(cs []C.CK_ATTRIBUTE, values []p11.AttrValue, rv C.CK_RV) C.CK_RV {
	if len(values) != len(cs) {
		return C.CKR_DEVICE_ERROR
	}
	short := false
	for i := range cs {
		a, v := &cs[i], values[i]
		if v.Status != p11.AttrOK {
			a.ulValueLen = C.CK_UNAVAILABLE_INFORMATION
			continue
		}
		n := cLen(uint64(a._type), v.Value)
		switch {
		case a.pValue == nil:
		case a.ulValueLen < n:
			a.ulValueLen = C.CK_UNAVAILABLE_INFORMATION
			short = true
			continue
		default:
			putValue(a, v.Value)
		}
		a.ulValueLen = n
	}
	if rv == C.CKR_OK && short {
		return C.CKR_BUFFER_TOO_SMALL
	}
	return rv
}

func createObject(hSession C.CK_SESSION_HANDLE, pTemplate C.CK_ATTRIBUTE_PTR, ulCount C.CK_ULONG, phObject C.CK_OBJECT_HANDLE_PTR) C.CK_RV {
	return with(func(c *client.Client) C.CK_RV {
		var a args
		tmpl := a.template(pTemplate, ulCount)
		a.need(phObject != nil)
		if !a.ok() {
			return a.result(c, hSession)
		}
		h, err := c.CreateObject(uint64(hSession), tmpl)
		return putHandle(phObject, h, err)
	})
}

func copyObject(hSession C.CK_SESSION_HANDLE, hObject C.CK_OBJECT_HANDLE, pTemplate C.CK_ATTRIBUTE_PTR, ulCount C.CK_ULONG, phNewObject C.CK_OBJECT_HANDLE_PTR) C.CK_RV {
	return with(func(c *client.Client) C.CK_RV {
		var a args
		tmpl := a.template(pTemplate, ulCount)
		a.need(phNewObject != nil)
		if !a.ok() {
			return a.result(c, hSession)
		}
		h, err := c.CopyObject(uint64(hSession), uint64(hObject), tmpl)
		return putHandle(phNewObject, h, err)
	})
}

func destroyObject(hSession C.CK_SESSION_HANDLE, hObject C.CK_OBJECT_HANDLE) C.CK_RV {
	return with(func(c *client.Client) C.CK_RV { return ckr(c.DestroyObject(uint64(hSession), uint64(hObject))) })
}

func getObjectSize(hSession C.CK_SESSION_HANDLE, hObject C.CK_OBJECT_HANDLE, pulSize C.CK_ULONG_PTR) C.CK_RV {
	return with(func(c *client.Client) C.CK_RV {
		var a args
		a.need(pulSize != nil)
		if !a.ok() {
			return a.result(c, hSession)
		}
		n, err := c.ObjectSize(uint64(hSession), uint64(hObject))
		if err == nil {
			*pulSize = C.CK_ULONG(n)
		}
		return ckr(err)
	})
}

func getAttributeValue(hSession C.CK_SESSION_HANDLE, hObject C.CK_OBJECT_HANDLE, pTemplate C.CK_ATTRIBUTE_PTR, ulCount C.CK_ULONG) C.CK_RV {
	return with(func(c *client.Client) C.CK_RV {
		var a args
		a.need((pTemplate != nil || ulCount == 0) && ulCount <= maxAttributes)
		if !a.ok() {
			return a.result(c, hSession)
		}
		var cs []C.CK_ATTRIBUTE
		if ulCount > 0 {
			cs = unsafe.Slice(pTemplate, int(ulCount))
		}
		types := make([]uint64, len(cs))
		for i := range cs {
			types[i] = uint64(cs[i]._type)
		}
		values, err := c.AttributeValues(uint64(hSession), uint64(hObject), types)
		var rv p11.RV
		if err != nil && (!errors.As(err, &rv) || (rv != p11.CKR_ATTRIBUTE_SENSITIVE && rv != p11.CKR_ATTRIBUTE_TYPE_INVALID)) {
			return ckr(err)
		}
		return putAttributes(cs, values, C.CK_RV(rv))
	})
}

func setAttributeValue(hSession C.CK_SESSION_HANDLE, hObject C.CK_OBJECT_HANDLE, pTemplate C.CK_ATTRIBUTE_PTR, ulCount C.CK_ULONG) C.CK_RV {
	return with(func(c *client.Client) C.CK_RV {
		var a args
		tmpl := a.template(pTemplate, ulCount)
		if !a.ok() {
			return a.result(c, hSession)
		}
		return ckr(c.SetAttributeValue(uint64(hSession), uint64(hObject), tmpl))
	})
}

func findObjectsInit(hSession C.CK_SESSION_HANDLE, pTemplate C.CK_ATTRIBUTE_PTR, ulCount C.CK_ULONG) C.CK_RV {
	return with(func(c *client.Client) C.CK_RV {
		var a args
		tmpl := a.template(pTemplate, ulCount)
		if !a.ok() {
			return a.result(c, hSession)
		}
		return ckr(c.FindObjectsInit(uint64(hSession), tmpl))
	})
}

// findObjects is C_FindObjects. It asks for at most maxHandles handles
// whatever ulMaxObjectCount says, and the server's answer must fit.
func findObjects(hSession C.CK_SESSION_HANDLE, phObject C.CK_OBJECT_HANDLE_PTR, ulMaxObjectCount C.CK_ULONG, pulObjectCount C.CK_ULONG_PTR) C.CK_RV {
	return with(func(c *client.Client) C.CK_RV {
		var a args
		a.need(pulObjectCount != nil && (phObject != nil || ulMaxObjectCount == 0))
		if !a.ok() {
			return a.result(c, hSession)
		}
		limit := min(uint64(ulMaxObjectCount), maxHandles)
		found, err := c.FindObjects(uint64(hSession), limit)
		if err != nil {
			return ckr(err)
		}
		if uint64(len(found)) > limit {
			logf("C_FindObjects: the server answered %d handles for %d", len(found), limit)
			return C.CKR_DEVICE_ERROR
		}
		dst := unsafe.Slice(phObject, len(found))
		for i, h := range found {
			dst[i] = C.CK_OBJECT_HANDLE(h)
		}
		*pulObjectCount = C.CK_ULONG(len(found))
		return C.CKR_OK
	})
}

func findObjectsFinal(hSession C.CK_SESSION_HANDLE) C.CK_RV {
	return with(func(c *client.Client) C.CK_RV { return ckr(c.FindObjectsFinal(uint64(hSession))) })
}
