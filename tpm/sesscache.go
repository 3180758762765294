package tpm

import (
	"crypto/sha256"
	"errors"
	"slices"

	"github.com/google/go-tpm/tpm2"
)

// paramEnc is the parameter encryption a key operation's session does.
type paramEnc uint8

const (
	encNone paramEnc = iota
	encIn            // the command's first parameter
	encOut           // the response's first parameter
	encInOut
)

func (e paramEnc) option() tpm2.AuthOption {
	switch e {
	case encIn:
		return tpm2.AESEncryption(128, tpm2.EncryptIn)
	case encOut:
		return tpm2.AESEncryption(128, tpm2.EncryptOut)
	case encInOut:
		return tpm2.AESEncryption(128, tpm2.EncryptInOut)
	}
	return nil
}

// keySession is a salted session bound to a cached key, kept open
// (continueSession) so that the key's next operation skips
// TPM2_StartAuthSession, whose salt costs the TPM an ECDH, and
// TPM2_FlushContext: on swtpm that is 0.5–0.9 ms of an ECDSA signature's
// 1.6 ms. It serves only the key, auth value and encryption it was started
// with.
type keySession struct {
	key  [32]byte // the parsedKey's id
	auth [32]byte // SHA-256 of the auth value, trailing zeros removed
	enc  paramEnc
	s    tpm2.Session
}

// sessionCacheSize returns how many key sessions a TPM that keeps at least
// loaded sessions loaded can have open between operations: two stay free
// for operations that start their own (Unseal holds two at once).
func sessionCacheSize(loaded int) int { return max(0, loaded-2) }

// keySession returns an open session bound to the key loaded at h, which
// must be in the key cache, for auth and enc, starting one if there is none
// and closing the least recently used to make room. reused says whether it
// served an earlier operation (and so may be stale).
func (l locked) keySession(id [32]byte, h tpm2.NamedHandle, auth []byte, enc paramEnc) (ks keySession, reused bool, err error) {
	c := &l.t.keys
	want := keySession{key: id, auth: sha256.Sum256(trimZeros(auth)), enc: enc}
	i := slices.IndexFunc(c.sessions, func(s keySession) bool {
		return s.key == want.key && s.auth == want.auth && s.enc == want.enc
	})
	if i >= 0 {
		ks := c.sessions[i]
		c.sessions = append(slices.Delete(c.sessions, i, i+1), ks)
		return ks, true, nil
	}
	if c.maxSessions > 0 && len(c.sessions) >= c.maxSessions {
		l.closeSessions(func(s keySession) bool { return s == c.sessions[0] })
	}
	want.s, _, err = l.session(h, auth, enc.option())
	if err != nil {
		return keySession{}, false, err
	}
	if c.maxSessions > 0 {
		c.sessions = append(c.sessions, want)
	}
	return want, false, nil
}

// endSession closes ks if the cache does not keep it or if drop is set.
func (l locked) endSession(ks keySession, drop bool) {
	c := &l.t.keys
	i := slices.Index(c.sessions, ks)
	if i >= 0 && !drop {
		return
	}
	if i >= 0 {
		c.sessions = slices.Delete(c.sessions, i, i+1)
	}
	_ = l.flush(ks.s.Handle()) // a session already gone is no matter
}

// closeSessions flushes and forgets the cached sessions match picks. A
// flush that fails (the session is already gone) is of no consequence.
func (l locked) closeSessions(match func(keySession) bool) {
	c := &l.t.keys
	c.sessions = slices.DeleteFunc(c.sessions, func(s keySession) bool {
		if !match(s) {
			return false
		}
		_ = l.flush(s.s.Handle())
		return true
	})
}

// staleSession reports whether err says a session handle names no session:
// someone flushed a cached one through Send.
func staleSession(err error) bool {
	for rc := tpm2.TPMRCReferenceS0; rc <= tpm2.TPMRCReferenceS0+6; rc++ {
		if errors.Is(err, rc) {
			return true
		}
	}
	return false
}
