// Package client is the pure-Go side of libtep_interface.so: it opens the
// port named by TEC_COMM_PORT, registers this process with tepd as one
// client, and turns PKCS#11 calls into wire calls. The cgo edge in
// provider/ copies arguments out of C memory, calls a Client method, and
// copies results back; everything here can be tested without cgo.
//
// Concurrency: a Client is safe for concurrent use; calls are serialised
// on the port. Lifetime: Dial at C_Initialize, Close at C_Finalize.
package client
