package bench

/*
#cgo CFLAGS: -I${SRCDIR}/../c_headers
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>
#include "pkcs11.h"

// miekgCtx is the C struct a miekg/pkcs11 (v1.1) Ctx points to.
struct miekgCtx {
	void *handle;
	CK_FUNCTION_LIST_PTR sym;
};

// functions returns the function list in ctx, a struct miekgCtx, if its
// handle is that of module, which must be loaded already; RTLD_NOLOAD
// keeps this from loading a second copy.
static CK_FUNCTION_LIST_PTR functions(void *ctx, const char *module) {
	void *h = dlopen(module, RTLD_NOW | RTLD_NOLOAD);
	if (h == NULL) return NULL;
	dlclose(h); // drops NOLOAD's reference only
	struct miekgCtx *c = ctx;
	return c->handle == h ? c->sym : NULL;
}

static CK_RV sign(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG n, CK_BYTE_PTR out, CK_ULONG_PTR outLen) {
	return f->C_Sign(s, in, n, out, outLen);
}
static CK_RV encrypt(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG n, CK_BYTE_PTR out, CK_ULONG_PTR outLen) {
	return f->C_Encrypt(s, in, n, out, outLen);
}
static CK_RV encryptUpdate(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG n, CK_BYTE_PTR out, CK_ULONG_PTR outLen) {
	return f->C_EncryptUpdate(s, in, n, out, outLen);
}
static CK_RV encryptFinal(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_BYTE_PTR out, CK_ULONG_PTR outLen) {
	return f->C_EncryptFinal(s, out, outLen);
}
static CK_RV digest(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG n, CK_BYTE_PTR out, CK_ULONG_PTR outLen) {
	return f->C_Digest(s, in, n, out, outLen);
}
*/
import "C"

import (
	"fmt"
	"reflect"
	"unsafe"

	"github.com/miekg/pkcs11"
)

// direct calls the single-part functions whose output miekg/pkcs11 sizes
// with a first call (NULL buffer) before the real one: through TEP each
// of those is a round trip to tepd. direct hands the module a buffer of
// the known size instead, so one operation is one call (PKCS#11 v2.40,
// 5.2, the length convention). It borrows a module that a pkcs11.Ctx has
// loaded and initialised.
//
// It must use the Ctx's own function list: p11-kit-client.so hands out a
// new instance, uninitialised and with no connection, on every
// C_GetFunctionList. miekg/pkcs11 does not export the list, so newDirect
// reads it from where the package keeps it, after checking the Go type
// and the module's handle, so that a change of that layout is an error.
type direct struct {
	f C.CK_FUNCTION_LIST_PTR
}

func newDirect(ctx *pkcs11.Ctx, module string) (*direct, error) {
	t := reflect.TypeFor[pkcs11.Ctx]()
	if t.NumField() != 1 || t.Field(0).Name != "ctx" || t.Field(0).Type.Kind() != reflect.Pointer {
		return nil, fmt.Errorf("pkcs11.Ctx is laid out differently than this package knows (%v)", t)
	}
	c := *(*unsafe.Pointer)(unsafe.Pointer(ctx))
	cs := C.CString(module)
	defer C.free(unsafe.Pointer(cs))
	f := C.functions(c, cs)
	if f == nil {
		return nil, fmt.Errorf("no function list of %s in its pkcs11.Ctx", module)
	}
	return &direct{f: f}, nil
}

// call runs one of the functions above on in, into out, and returns the
// length written.
type directFunc func(C.CK_FUNCTION_LIST_PTR, C.CK_SESSION_HANDLE, C.CK_BYTE_PTR, C.CK_ULONG, C.CK_BYTE_PTR, C.CK_ULONG_PTR) C.CK_RV

func (d *direct) call(name string, fn directFunc, sh pkcs11.SessionHandle, in, out []byte) (int, error) {
	n := C.CK_ULONG(len(out))
	var outp C.CK_BYTE_PTR
	if len(out) > 0 {
		outp = (C.CK_BYTE_PTR)(unsafe.Pointer(&out[0]))
	} else {
		// An empty buffer must not read as the length query.
		var pad [1]byte
		outp = (C.CK_BYTE_PTR)(unsafe.Pointer(&pad[0]))
	}
	if rv := fn(d.f, C.CK_SESSION_HANDLE(sh), bytePtr(in), C.CK_ULONG(len(in)), outp, &n); rv != C.CKR_OK {
		return 0, fmt.Errorf("%s: %w", name, pkcs11.Error(rv))
	}
	return int(n), nil
}

// query is call with a NULL output buffer, the length query of the
// two-call convention: it returns the length the output needs, and the
// operation stays active.
func (d *direct) query(name string, fn directFunc, sh pkcs11.SessionHandle, in []byte) (int, error) {
	var n C.CK_ULONG
	if rv := fn(d.f, C.CK_SESSION_HANDLE(sh), bytePtr(in), C.CK_ULONG(len(in)), nil, &n); rv != C.CKR_OK {
		return 0, fmt.Errorf("%s (length query): %w", name, pkcs11.Error(rv))
	}
	return int(n), nil
}

// bytePtr is b's first byte, NULL for none.
func bytePtr(b []byte) C.CK_BYTE_PTR {
	if len(b) == 0 {
		return nil
	}
	return (C.CK_BYTE_PTR)(unsafe.Pointer(&b[0]))
}

func (d *direct) sign(sh pkcs11.SessionHandle, in, out []byte) (int, error) {
	return d.call("C_Sign", func(f C.CK_FUNCTION_LIST_PTR, s C.CK_SESSION_HANDLE, i C.CK_BYTE_PTR, n C.CK_ULONG, o C.CK_BYTE_PTR, on C.CK_ULONG_PTR) C.CK_RV {
		return C.sign(f, s, i, n, o, on)
	}, sh, in, out)
}

func (d *direct) encrypt(sh pkcs11.SessionHandle, in, out []byte) (int, error) {
	return d.call("C_Encrypt", func(f C.CK_FUNCTION_LIST_PTR, s C.CK_SESSION_HANDLE, i C.CK_BYTE_PTR, n C.CK_ULONG, o C.CK_BYTE_PTR, on C.CK_ULONG_PTR) C.CK_RV {
		return C.encrypt(f, s, i, n, o, on)
	}, sh, in, out)
}

func (d *direct) encryptUpdate(sh pkcs11.SessionHandle, in, out []byte) (int, error) {
	return d.call("C_EncryptUpdate", func(f C.CK_FUNCTION_LIST_PTR, s C.CK_SESSION_HANDLE, i C.CK_BYTE_PTR, n C.CK_ULONG, o C.CK_BYTE_PTR, on C.CK_ULONG_PTR) C.CK_RV {
		return C.encryptUpdate(f, s, i, n, o, on)
	}, sh, in, out)
}

func (d *direct) encryptFinal(sh pkcs11.SessionHandle, out []byte) (int, error) {
	fn := func(f C.CK_FUNCTION_LIST_PTR, s C.CK_SESSION_HANDLE, _ C.CK_BYTE_PTR, _ C.CK_ULONG, o C.CK_BYTE_PTR, n C.CK_ULONG_PTR) C.CK_RV {
		return C.encryptFinal(f, s, o, n)
	}
	return d.call("C_EncryptFinal", fn, sh, nil, out)
}

func digestFunc(f C.CK_FUNCTION_LIST_PTR, s C.CK_SESSION_HANDLE, i C.CK_BYTE_PTR, n C.CK_ULONG, o C.CK_BYTE_PTR, on C.CK_ULONG_PTR) C.CK_RV {
	return C.digest(f, s, i, n, o, on)
}

func (d *direct) digest(sh pkcs11.SessionHandle, in, out []byte) (int, error) {
	return d.call("C_Digest", digestFunc, sh, in, out)
}

// digestLen is C_Digest's length query, with the data as an application
// passes it.
func (d *direct) digestLen(sh pkcs11.SessionHandle, in []byte) (int, error) {
	return d.query("C_Digest", digestFunc, sh, in)
}
