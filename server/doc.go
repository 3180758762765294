// Package server is tepd: it serves PKCS#11 calls arriving on ports
// (serial devices, pty pairs, unix sockets) from guest processes, keeps
// each process's sessions and logins apart, and backs tokens with a TPM
// and their records with SQLite.
//
// A client exists only once its handshake (package channel) succeeded;
// every later call must open under its keys, and a frame that does not —
// forged, replayed, or for an id without a channel — is dropped and
// counted (ChannelStats), not answered, but for the plain FuncNoChannel
// an unknown id gets.
//
// Each handler is a typed function behind one adapter (handle, locked in
// server.go) that decodes its arguments, finds the caller's session where
// the call has one, and ends the session's operation when a call that
// continues it fails (operation.go), as PKCS#11 wants.
//
// Limits bounds what clients can make the server hold, each alone and all
// together: sessions, session and token objects and their bytes, searches,
// handshakes per port, connections per socket, partial messages; a limit
// hit is answered as PKCS#11 defines (CKR_SESSION_COUNT, CKR_DEVICE_MEMORY)
// and counted. What clients did (frames dropped, limits hit, clients
// reaped) goes into one summary line, logged at most once a minute.
//
// Every call is answered with a PKCS#11 return value; errors from the TPM
// and the store are mapped to return values in one place (rvOf), and
// logged there when they are not the caller's fault.
//
// A CKA_PRIVATE token object is stored sealed under its token's key
// (atrest.go): at start the server holds only the public objects, and a
// token's private ones join them at its first login (user or SO). A key
// made with CKA_PRIVATE=FALSE has its TPM authorisation wrapped by the
// token's public key, which needs no PIN (public.go): any session may use
// it.
//
// Concurrency: one goroutine serves each port; Handle is safe for
// concurrent use. Server state is guarded by one mutex, held only for
// bookkeeping; TPM commands run outside it (the TPM layer has its own).
// Lifetime: New, Serve…, Close.
package server
