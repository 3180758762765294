// Package p11 is the PKCS#11 vocabulary that provider and server share:
// return values, flags and mechanism numbers under their spec names, and
// the protocol that carries each PKCS#11 function over a link — its
// function id and the msgpack shape of its arguments and results.
//
// The values are those of PKCS#11 v2.40; c_headers/ holds the same values
// for C, and a provider test checks that the two agree.
//
// Everything here is plain data: no I/O, no state, safe for concurrent use.
package p11
