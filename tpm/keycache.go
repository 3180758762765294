package tpm

import (
	"errors"
	"fmt"
	"slices"

	"github.com/google/go-tpm/tpm2"
)

// keyCache holds the keys left loaded between operations, so that a key
// used again skips TPM2_Load. It holds at most the TPM's transient slots
// minus two: one for the storage primary key, and one kept free for the
// objects an operation loads only for itself (a sealed object, an HMAC
// sequence, objects loaded inside Do). Entries are ordered from least to
// most recently used. It is guarded by TPM.mu.
type keyCache struct {
	size    int
	entries []cachedKey
	// sessions are the open key sessions, least recently used first; at
	// most maxSessions of them.
	sessions    []keySession
	maxSessions int
}

type cachedKey struct {
	id [32]byte
	h  tpm2.NamedHandle
}

// cacheSize returns how many keys a TPM with slots transient slots keeps
// loaded: at least one, so that a key can be used at all.
func cacheSize(slots int) int { return max(1, slots-2) }

// loadKey returns the handle of pk, loading it if it is not loaded and
// flushing the least recently used key first if the cache is full. A Load
// that finds the TPM out of object memory (objects loaded by others through
// Do, or a TPM with fewer slots than it said) empties the cache and tries
// once more.
func (l locked) loadKey(pk parsedKey) (tpm2.NamedHandle, error) {
	c := &l.t.keys
	if i := slices.IndexFunc(c.entries, func(e cachedKey) bool { return e.id == pk.id }); i >= 0 {
		e := c.entries[i]
		c.entries = append(slices.Delete(c.entries, i, i+1), e)
		return e.h, nil
	}
	var ferr error
	if len(c.entries) >= c.size {
		ferr = l.evict(len(c.entries) - c.size + 1)
	}
	h, err := l.load(pk.pub, pk.priv)
	if errors.Is(err, tpm2.TPMRCObjectMemory) && len(c.entries) > 0 {
		ferr = errors.Join(ferr, l.evict(len(c.entries)))
		h, err = l.load(pk.pub, pk.priv)
	}
	if err != nil {
		return tpm2.NamedHandle{}, errors.Join(err, ferr)
	}
	c.entries = append(c.entries, cachedKey{id: pk.id, h: h})
	return h, nil
}

// evict flushes the n least recently used keys. A key whose flush fails is
// dropped from the cache all the same: its handle is no longer trusted.
func (l locked) evict(n int) error {
	c := &l.t.keys
	var errs []error
	for _, e := range c.entries[:n] {
		l.closeSessions(func(s keySession) bool { return s.key == e.id })
		errs = append(errs, l.flush(e.h.Handle))
	}
	c.entries = slices.Delete(c.entries, 0, n)
	return errors.Join(errs...)
}

// forget drops pk from the cache and tries to flush it.
func (l locked) forget(pk parsedKey) {
	c := &l.t.keys
	i := slices.IndexFunc(c.entries, func(e cachedKey) bool { return e.id == pk.id })
	if i < 0 {
		return
	}
	h := c.entries[i].h
	c.entries = slices.Delete(c.entries, i, i+1)
	l.closeSessions(func(s keySession) bool { return s.key == pk.id })
	_ = l.flush(h.Handle) // fails if the handle is gone, as expected
}

// FlushKeys flushes every key the package keeps loaded, and the sessions
// kept open for them. Keys are loaded again when next used; callers may
// flush before running a sequence in Do that loads more than one object or
// starts more than one session.
func (t *TPM) FlushKeys() error {
	err := t.do(func(l locked) error { return l.evict(len(l.t.keys.entries)) })
	if err != nil {
		return fmt.Errorf("flushing loaded keys: %w", err)
	}
	return nil
}

// CacheSize returns how many keys the package keeps loaded between
// operations: the TPM's transient slots less the storage primary key's and
// one kept free.
func (t *TPM) CacheSize() int { return t.keys.size }

// useKey runs f with k loaded and a session that authorizes it with auth:
// salted with the storage primary key and bound to k, with parameter
// encryption enc. The session stays open for the key's next operation (see
// keySession); one that fails is closed. Authorization failures come back
// marked with ErrAuthFail or ErrLockout.
func (t *TPM) useKey(pk parsedKey, auth []byte, enc paramEnc, f func(l locked, key tpm2.AuthHandle) error) error {
	if len(auth) > MaxAuth {
		return fmt.Errorf("auth of %d bytes too long", len(auth))
	}
	return t.do(func(l locked) error {
		reused, err := l.useKey(pk, auth, enc, f)
		// A cached key or session flushed by someone through Send: the
		// command did not run. Forget them and try once more.
		switch {
		case reused && staleSession(err):
			_, err = l.useKey(pk, auth, enc, f)
		case staleHandle(err):
			l.forget(pk)
			_, err = l.useKey(pk, auth, enc, f)
		}
		if staleHandle(err) {
			l.forget(pk)
		}
		return authError(err)
	})
}

func (l locked) useKey(pk parsedKey, auth []byte, enc paramEnc, f func(l locked, key tpm2.AuthHandle) error) (reused bool, err error) {
	h, err := l.loadKey(pk)
	if err != nil {
		return false, err
	}
	ks, reused, err := l.keySession(pk.id, h, auth, enc)
	if err != nil {
		return false, err
	}
	err = f(l, tpm2.AuthHandle{Handle: h.Handle, Name: h.Name, Auth: ks.s})
	// A session the cache does not keep is closed; so is one whose
	// operation failed, whatever went wrong, so the next starts afresh.
	l.endSession(ks, err != nil)
	return reused, err
}

// staleHandle reports whether err says a handle names no loaded object.
func staleHandle(err error) bool {
	return errors.Is(err, tpm2.TPMRCHandle) || errors.Is(err, tpm2.TPMRCReferenceH0) || errors.Is(err, tpm2.TPMRCReferenceH1)
}
