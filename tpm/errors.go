package tpm

import (
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

// The package's sentinels, in one place: the server maps each to the
// PKCS#11 return value its callers see (server.rvOf). The TPM's own
// response code stays in the chain behind them.

// ErrClosed is returned by every method of a TPM after Close.
var ErrClosed = errors.New("tpm: closed")

var (
	// ErrUsage means a key's attributes forbid the operation asked of it:
	// signing with a decrypt-only key, say. The TPM enforces the same
	// attributes; the package checks them first to say so clearly.
	ErrUsage = errors.New("tpm: key usage does not allow this operation")
	// ErrUnsupported means the package or the TPM cannot do what was asked
	// in the way asked (an OAEP label the TPM would change, a PSS salt
	// length other than the digest's, a curve without a TPM name, ...).
	ErrUnsupported = errors.New("tpm: not supported")
	// ErrDecrypt means a ciphertext did not decrypt: its padding is wrong,
	// or it was made for another key.
	ErrDecrypt = errors.New("tpm: ciphertext does not decrypt")
)

var (
	// ErrAuthFail means an authorization value was wrong (TPM_RC_AUTH_FAIL
	// or TPM_RC_BAD_AUTH). For objects under dictionary-attack protection
	// the TPM counted the failure. The TPM's code stays in the chain.
	ErrAuthFail = errors.New("tpm: authorization failed")
	// ErrLockout means the TPM is in dictionary-attack lockout
	// (TPM_RC_LOCKOUT) and refuses to check authorization values until the
	// recovery time passes or the lockout is reset.
	ErrLockout = errors.New("tpm: dictionary-attack lockout")
)

// authError marks the TPM's authorization failures with the package's
// sentinels, keeping the TPM's code in the chain.
func authError(err error) error {
	switch {
	case errors.Is(err, tpm2.TPMRCLockout):
		return fmt.Errorf("%w: %w", ErrLockout, err)
	case errors.Is(err, tpm2.TPMRCAuthFail), errors.Is(err, tpm2.TPMRCBadAuth):
		return fmt.Errorf("%w: %w", ErrAuthFail, err)
	}
	return err
}
