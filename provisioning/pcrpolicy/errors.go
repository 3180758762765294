package pcrpolicy

import "errors"

// Errors that callers branch on.
var (
	// ErrBadSignature means a signature does not verify with the key
	// given over the approved policy.
	ErrBadSignature = errors.New("signature does not match the approved policy and key")
	// ErrKeyType means a key is of a type or curve that the policy does
	// not take (ECDSA P-256 or P-384, RSA 2048 to 4096).
	ErrKeyType = errors.New("unsupported signing key type")
	// ErrPCRFile means a PCR values file does not hold the selection it
	// should.
	ErrPCRFile = errors.New("malformed PCR values")
)
