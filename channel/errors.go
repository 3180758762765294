package channel

import "errors"

// Errors of the package. Callers branch on them with errors.Is.
var (
	// ErrServerKeyMismatch means the server's static key differs from
	// the pinned one; the error's text names both fingerprints.
	ErrServerKeyMismatch = errors.New("channel: server key differs from the pinned key")
	// ErrHandshake means a handshake message is malformed or does not
	// authenticate.
	ErrHandshake = errors.New("channel: handshake failed")
	// ErrOpen means a sealed body is malformed or does not authenticate
	// under the key and nonce it was opened with.
	ErrOpen = errors.New("channel: message does not authenticate")
	// ErrReplay means a sequence number is not ahead of the last one
	// accepted: a replayed, reordered or stale message.
	ErrReplay = errors.New("channel: sequence number replayed or out of window")
	// ErrBadKey means a key in text or binary form is malformed.
	ErrBadKey = errors.New("channel: malformed key")
)
