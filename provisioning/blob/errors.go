package blob

import "errors"

// The errors callers branch on. Each is wrapped with the detail.
var (
	// ErrFormat is a blob that does not parse: bad magic, version, mode,
	// lengths, or truncated.
	ErrFormat = errors.New("malformed configuration blob")
	// ErrSigner is a blob signed by a key other than the device's policy
	// key: the header's fingerprint names another key.
	ErrSigner = errors.New("blob signed by another key")
	// ErrSignature is a signature that does not verify.
	ErrSignature = errors.New("blob signature does not verify")
	// ErrDecrypt is content that does not decrypt: a blob for another
	// device's key, or (ecdh) a failed authentication.
	ErrDecrypt = errors.New("blob does not decrypt with this device's key")
)
