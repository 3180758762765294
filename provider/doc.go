// Package main is libtep_interface.so, TEP's PKCS#11 v2.40 provider. Build
// it with
//
//	go build -buildmode=c-shared -o build/libtep_interface.so ./provider
//
// and give the .so to any PKCS#11 application (pkcs11-tool --module, p11-kit,
// OpenSSL's pkcs11 engine). It exports all 68 functions of PKCS#11 v2.40 under
// their spec names, C_GetFunctionList among them.
//
// This is the only package of TEP that imports "C". stubs.c defines the C
// functions; each calls a Go thunk in exports.go named tep_ plus the PKCS#11
// name (tep_C_Sign for C_Sign), which recovers any panic into
// CKR_GENERAL_ERROR, copies arguments out of C memory and hands the call to
// the pure-Go client. C_GetFunctionList is answered in C alone.
//
// Each function checks, in PKCS#11's order, that the module is initialised
// (touching no argument before), then its arguments (args.go: every count
// and length against the limits of limits.go, before anything is copied or
// allocated), and on a bad argument whether the session is valid, which
// PKCS#11 reports first. Outputs are written through putOut and putList,
// which check the caller's capacity whatever the server answered.
//
// Concurrency: PKCS#11 applications call from any thread, so the thunks may
// run concurrently; whatever they share must be locked in the client.
//
// Lifetime: the library is loaded once and, being a Go shared library, never
// really unloaded; state is reset by C_Finalize, not by dlclose.
//
// fork: Go cannot run in a child created by fork() without exec(). fork.c
// registers a pthread_atfork handler when the library is loaded; in a child,
// C_Initialize fails with CKR_GENERAL_ERROR and a line on stderr, and every
// other function returns CKR_CRYPTOKI_NOT_INITIALIZED, all without entering
// Go. The handler also closes the port descriptor that the client registers
// with tep_set_port_fd (declared in exports.go's preamble); the client must
// set it to -1 before closing the port.
package main
