package main

/*
#cgo CFLAGS: -I${SRCDIR}/../c_headers
#include "pkcs11.h"

void tep_set_port_fd(int fd);
*/
import "C"

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"unicode/utf8"
	"unsafe"

	"tep.dev/tep/p11"
	"tep.dev/tep/provider/client"
)

// lib is the module's state between C_Initialize and C_Finalize. A Go
// shared library is never unloaded, so C_Finalize must leave it as new.
var lib struct {
	mu        sync.RWMutex
	c         *client.Client
	finalized chan struct{} // closed by C_Finalize, wakes C_WaitForSlotEvent
	log       io.Writer
	// stopProfile ends the CPU profile TEP_CPUPROFILE asked for.
	stopProfile func()
}

// current returns the client, or CKR_CRYPTOKI_NOT_INITIALIZED. The caller
// holds lib.mu for reading.
func current() (*client.Client, C.CK_RV) {
	if lib.c == nil {
		return nil, C.CKR_CRYPTOKI_NOT_INITIALIZED
	}
	return lib.c, C.CKR_OK
}

// with runs fn with the client, holding the module state for reading so
// that C_Finalize waits for calls in flight.
func with(fn func(c *client.Client) C.CK_RV) C.CK_RV {
	lib.mu.RLock()
	defer lib.mu.RUnlock()
	c, rv := current()
	if rv != C.CKR_OK {
		return rv
	}
	return fn(c)
}

// logf writes one diagnostic line to stderr or the file named by TEP_LOG.
func logf(format string, args ...any) {
	w := lib.log
	if w == nil {
		w = os.Stderr
	}
	fmt.Fprintf(w, "libtep_interface: "+format+"\n", args...)
}

// ckr maps a client error to the return value the application sees: the
// server's own value, or CKR_DEVICE_ERROR (explained in the log) when the
// server could not be reached.
func ckr(err error) C.CK_RV {
	var rv p11.RV
	switch {
	case err == nil:
		return C.CKR_OK
	case errors.As(err, &rv):
		return C.CK_RV(rv)
	case errors.Is(err, client.ErrLink):
		logf("%v", err)
		return C.CKR_DEVICE_ERROR
	}
	logf("%v", err)
	return C.CKR_GENERAL_ERROR
}

// pad copies s into a fixed-width PKCS#11 string field.
func pad(dst []C.CK_UTF8CHAR, s string) {
	padBytes(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(dst))), len(dst)), s)
}

// padBytes fills dst with s, padded with spaces byte by byte and cut, if
// too long, at a character boundary.
func padBytes(dst []byte, s string) {
	n := 0
	for n < len(s) {
		_, size := utf8.DecodeRuneInString(s[n:])
		if n+size > len(dst) {
			break
		}
		n += size
	}
	copy(dst, s[:n])
	for i := n; i < len(dst); i++ {
		dst[i] = ' '
	}
}

// cBytes views n bytes of C memory at p, for writing results in place.
// The caller has bounded n by a limit of limits.go.
func cBytes(p C.CK_BYTE_PTR, n C.CK_ULONG) []byte {
	if p == nil || n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n))
}

// outCap is the capacity of an output buffer for the length convention:
// -1 for a NULL buffer, else *pulLen, which beyond maxOut (no reply is
// longer) counts as maxOut: a CK_ULONG past 2^63 must not turn negative
// and read as a length query.
func outCap(p C.CK_BYTE_PTR, pulLen C.CK_ULONG_PTR) int64 {
	if p == nil {
		return -1
	}
	return int64(min(uint64(*pulLen), maxOut))
}

// putOut finishes a call under the length convention (PKCS#11 v2.40,
// 5.2): *pulLen gets the length, and the output is copied only into a
// buffer the caller said is large enough. The capacity is checked here,
// whatever the server answered: a reply longer than the caller's buffer,
// or whose data is not the length it announces, is CKR_DEVICE_ERROR and
// writes nothing.
func putOut(p C.CK_BYTE_PTR, pulLen C.CK_ULONG_PTR, out []byte, n uint64, err error) C.CK_RV {
	rv := ckr(err)
	if rv != C.CKR_OK && rv != C.CKR_BUFFER_TOO_SMALL {
		return rv
	}
	if rv == C.CKR_OK && p != nil {
		if uint64(len(out)) != n || n > uint64(*pulLen) {
			logf("the server answered %d bytes, announced as %d, for a buffer of %d", len(out), n, uint64(*pulLen))
			return C.CKR_DEVICE_ERROR
		}
		copy(unsafe.Slice((*byte)(unsafe.Pointer(p)), len(out)), out)
	}
	*pulLen = C.CK_ULONG(n)
	return rv
}

// putList finishes a call that returns a list under the length
// convention: NULL asks for the count, a short array gets
// CKR_BUFFER_TOO_SMALL with the count.
func putList(p *C.CK_ULONG, pulCount C.CK_ULONG_PTR, list []uint64) C.CK_RV {
	if p == nil {
		*pulCount = C.CK_ULONG(len(list))
		return C.CKR_OK
	}
	if uint64(*pulCount) < uint64(len(list)) {
		*pulCount = C.CK_ULONG(len(list))
		return C.CKR_BUFFER_TOO_SMALL
	}
	dst := unsafe.Slice(p, len(list))
	for i, v := range list {
		dst[i] = C.CK_ULONG(v)
	}
	*pulCount = C.CK_ULONG(len(list))
	return C.CKR_OK
}

// putHandle finishes a call that returns a handle.
func putHandle(ph C.CK_OBJECT_HANDLE_PTR, h uint64, err error) C.CK_RV {
	if err == nil {
		*ph = C.CK_OBJECT_HANDLE(h)
	}
	return ckr(err)
}

func version(v p11.Version) C.CK_VERSION {
	return C.CK_VERSION{major: C.CK_BYTE(v.Major), minor: C.CK_BYTE(v.Minor)}
}

// setPortFD tells the fork handler which descriptor to close in a child.
func setPortFD(fd int) { C.tep_set_port_fd(C.int(fd)) }
