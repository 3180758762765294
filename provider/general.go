package main

/*
#cgo CFLAGS: -I${SRCDIR}/../c_headers
#include "pkcs11.h"
*/
import "C"

import (
	"errors"
	"os"
	"sync"
	"unsafe"

	"tep.dev/tep/profile"
	"tep.dev/tep/provider/client"
)

// initialize is C_Initialize. It copies what it needs of the arguments;
// nothing of the caller's memory is kept.
func initialize(pInitArgs C.CK_VOID_PTR) C.CK_RV {
	if pInitArgs != nil {
		if rv := checkInitArgs((*C.CK_C_INITIALIZE_ARGS)(pInitArgs)); rv != C.CKR_OK {
			return rv
		}
	}
	lib.mu.Lock()
	defer lib.mu.Unlock()
	if lib.c != nil {
		return C.CKR_CRYPTOKI_ALREADY_INITIALIZED
	}
	lib.log = client.LogFile(os.Getenv)
	cfg, err := client.FromEnv(os.Getenv)
	if err != nil {
		logf("%v", err)
		return C.CKR_ARGUMENTS_BAD
	}
	// The calling thread is the application's, lent for one call: its
	// waits need not hand the module's P around (link.TTY.SetRawWaits).
	cfg.RawWaits = true
	c, err := client.Dial(cfg)
	if errors.Is(err, client.ErrServerKey) {
		// PKCS#11 v2.40, C_Initialize: of the device's failures, only
		// CKR_FUNCTION_FAILED and CKR_GENERAL_ERROR are in its list.
		logf("C_Initialize: %v", err)
		return C.CKR_FUNCTION_FAILED
	}
	if err != nil {
		logf("C_Initialize: %v", err)
		return C.CKR_DEVICE_ERROR
	}
	if key, pinned := c.ServerKey(); !pinned {
		unpinnedOnce.Do(func() {
			logf("C_Initialize: the TEP server's key is not pinned, so an active man-in-the-middle on the line could impersonate it; "+
				"the server presented %s (fingerprint %s): set %s to pin it", key, key.Fingerprint(), client.EnvServerKey)
		})
	}
	setPortFD(c.PortFD())
	lib.c = c
	lib.finalized = make(chan struct{})
	lib.stopProfile = startProfile(os.Getenv(envCPUProfile))
	return C.CKR_OK
}

// unpinnedOnce says once per process that the server's key is not
// pinned, however often the application initialises.
var unpinnedOnce sync.Once

// envCPUProfile names a file for a pprof CPU profile of the provider from
// C_Initialize to C_Finalize.
const envCPUProfile = "TEP_CPUPROFILE"

// startProfile profiles the process into file, if one is named, and
// returns what stops it; a profile that cannot start is logged.
func startProfile(file string) func() {
	if file == "" {
		return func() {}
	}
	stop, err := profile.Start(file)
	if err != nil {
		logf("%s: %v", envCPUProfile, err)
		return func() {}
	}
	return stop
}

// checkInitArgs applies PKCS#11's rules for CK_C_INITIALIZE_ARGS. TEP
// locks with Go's own primitives, which are safe with any OS threads, and
// never calls the application's mutex callbacks: the callbacks exist for
// libraries that cannot lock by themselves. p11-kit (and so GnuTLS) passes
// them without CKF_OS_LOCKING_OK, and refusing them with CKR_CANT_LOCK
// would lock those applications out.
func checkInitArgs(a *C.CK_C_INITIALIZE_ARGS) C.CK_RV {
	if a.pReserved != nil {
		return C.CKR_ARGUMENTS_BAD
	}
	n := 0
	for _, f := range []unsafe.Pointer{unsafe.Pointer(a.CreateMutex), unsafe.Pointer(a.DestroyMutex), unsafe.Pointer(a.LockMutex), unsafe.Pointer(a.UnlockMutex)} {
		if f != nil {
			n++
		}
	}
	// CKF_LIBRARY_CANT_CREATE_OS_THREADS is accepted too: GnuTLS sets it,
	// and the Go runtime's threads exist from the moment the library is
	// loaded, before any call, whatever C_Initialize answers.
	if n != 0 && n != 4 {
		return C.CKR_ARGUMENTS_BAD
	}
	return C.CKR_OK
}

// finalize is C_Finalize: the server forgets this process, the port is
// closed, and the module is as new for the next C_Initialize.
func finalize(pReserved C.CK_VOID_PTR) C.CK_RV {
	lib.mu.Lock()
	defer lib.mu.Unlock()
	c, rv := current()
	if rv != C.CKR_OK {
		return rv
	}
	if pReserved != nil {
		return C.CKR_ARGUMENTS_BAD
	}
	setPortFD(-1) // before the descriptor is closed and its number reused
	lib.c = nil
	lib.stopProfile()
	close(lib.finalized)
	if err := c.Close(); err != nil {
		logf("C_Finalize: %v", err) // the process is done with us anyway
	}
	return C.CKR_OK
}

// Library identity, CK_INFO.
const (
	libManufacturer = "TEP"
	libDescription  = "TEP PKCS#11 over vUART"
)

func getInfo(pInfo C.CK_INFO_PTR) C.CK_RV {
	return with(func(*client.Client) C.CK_RV {
		if pInfo == nil {
			return C.CKR_ARGUMENTS_BAD
		}
		pInfo.cryptokiVersion = C.CK_VERSION{major: 2, minor: 40}
		pad(pInfo.manufacturerID[:], libManufacturer)
		pInfo.flags = 0
		pad(pInfo.libraryDescription[:], libDescription)
		pInfo.libraryVersion = C.CK_VERSION{major: 0, minor: 1}
		return C.CKR_OK
	})
}

// waitForSlotEvent is C_WaitForSlotEvent. TEP's slots change only through
// C_InitToken, which the caller sees directly: there is never an event to
// report, and a blocking wait lasts until C_Finalize.
func waitForSlotEvent(flags C.CK_FLAGS, pSlot C.CK_SLOT_ID_PTR, pReserved C.CK_VOID_PTR) C.CK_RV {
	lib.mu.RLock()
	_, rv := current()
	done := lib.finalized
	lib.mu.RUnlock()
	if rv != C.CKR_OK {
		return rv
	}
	if pSlot == nil || pReserved != nil {
		return C.CKR_ARGUMENTS_BAD
	}
	if flags&C.CKF_DONT_BLOCK != 0 {
		return C.CKR_NO_EVENT
	}
	<-done
	return C.CKR_CRYPTOKI_NOT_INITIALIZED
}

// legacyParallel answers C_GetFunctionStatus and C_CancelFunction, the
// legacy functions of parallel execution, as PKCS#11 v2.40 (5.16) says
// every library must: CKR_FUNCTION_NOT_PARALLEL, once initialised.
func legacyParallel() C.CK_RV {
	return with(func(*client.Client) C.CK_RV { return C.CKR_FUNCTION_NOT_PARALLEL })
}
