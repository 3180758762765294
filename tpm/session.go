package tpm

import (
	"bytes"

	"github.com/google/go-tpm/tpm2"
)

// session starts an HMAC session that authorizes entity with auth: salted
// with the storage primary key, so its key is unknown to anyone watching
// the bus, and bound to entity. enc, if not nil, adds parameter encryption
// (tpm2.AESEncryption). The caller must call the returned function, which
// flushes the session, when done.
//
// The binding works around go-tpm v0.9.8 cutting an auth value at its first
// zero byte when it keys a session HMAC (Part 1, 19.6.5 removes trailing
// zeros only; google/go-tpm pull request 446): one PIN digest in eight
// would fail, and count as a dictionary attack. A session that authorizes
// its bind entity leaves the auth value out of the HMAC key; it enters the
// session key instead, through the bind, where go-tpm uses it as given. The
// TPM removes trailing zeros from the bind entity's auth value first, so
// they are removed here too.
func (l locked) session(entity tpm2.NamedHandle, auth []byte, enc tpm2.AuthOption) (tpm2.Session, func(), error) {
	// go-tpm keeps the slice: a copy, for callers clear theirs after use
	// while a cached session goes on using it.
	auth = bytes.Clone(trimZeros(auth))
	opts := []tpm2.AuthOption{
		tpm2.Salted(l.t.srk.Handle, l.t.srkPub),
		tpm2.Bound(entity.Handle, entity.Name, auth),
		tpm2.Auth(auth),
	}
	if enc != nil {
		opts = append(opts, enc)
	}
	sess, closer, err := tpm2.HMACSession(l, tpm2.TPMAlgSHA256, nonceSize, opts...)
	if err != nil {
		return nil, nil, err
	}
	// A flush that fails leaves the session to the next Open's cleanup.
	return sess, func() { _ = closer() }, nil
}

// trimZeros returns auth without its trailing zero bytes.
func trimZeros(auth []byte) []byte {
	n := len(auth)
	for n > 0 && auth[n-1] == 0 {
		n--
	}
	return auth[:n]
}
