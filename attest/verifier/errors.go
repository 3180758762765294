package verifier

import (
	"errors"

	"tep.dev/tep/attest"
)

// Errors the API maps to HTTP statuses, in one place (attest/api).
var (
	// ErrInvalid: the request is malformed or out of bounds.
	ErrInvalid = errors.New("invalid request")
	// ErrUnauthorized: an enrolment without a valid one-time token and
	// with an EK not on the allow list.
	ErrUnauthorized = errors.New("enrolment not authorised")
	// ErrNotFound: no such host, enrolment or report.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the host is bound to another EK, or changed during
	// the appraisal.
	ErrConflict = errors.New("conflict")
	// ErrExpired: the enrolment is no longer pending or has expired.
	ErrExpired = errors.New("enrolment expired or already used")
	// ErrNotActivated: the host has no activated AK.
	ErrNotActivated = errors.New("host has no activated attestation key")
)

// FaultError refuses a request for a reason a trust report would name
// (an untrusted EK certificate, a wrong activation secret, a replayed
// nonce). No report is stored: a stranger who replays a host's old
// evidence must not be able to mark the host untrusted.
type FaultError struct {
	Fault attest.Fault
}

func (e *FaultError) Error() string { return e.Fault.Name + ": " + e.Fault.Description }

func fault(name, desc string) error {
	return &FaultError{attest.Fault{Name: name, Description: desc}}
}
