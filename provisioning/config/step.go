package config

import (
	"errors"
	"fmt"

	"tep.dev/tep/provisioning/device"
)

// Step names a step of apply, for messages, records and --json.
type Step string

// The steps, in order (the numbering).
const (
	StepSettings Step = "settings"
	StepRead     Step = "read"
	StepVerify   Step = "verify"
	StepEpoch    Step = "rollback-guard"
	StepDecrypt  Step = "decrypt"
	StepExtract  Step = "extract"
	StepSwap     Step = "swap"
	StepHooks    Step = "hooks"
	StepCommit   Step = "commit"
)

// ErrReplay is a blob whose epoch is not above the last one applied.
var ErrReplay = errors.New("epoch not above the last applied")

// ErrEpochJump is a blob whose epoch is more than MaxEpochStep above the
// last applied.
var ErrEpochJump = errors.New("epoch too far above the last applied")

// MaxEpochStep bounds how far one blob may move the epoch: a TPM counter
// moves by one per TPM2_NV_Increment, each an NV write that wears the
// chip, and a signed blob with epoch 2^60 must not make the device spin on
// its TPM for ever. It is device.MaxRaise, checked before anything is
// decrypted. Number blobs 1, 2, 3, ...
const MaxEpochStep = device.MaxRaise

// ErrPolicyKeyPin is a policy key in NV other than the one the settings
// pin (Settings.PolicyKey).
var ErrPolicyKeyPin = errors.New("policy key in the TPM is not the one the settings pin")

// ErrNoPrevious is a rollback with no previous configuration kept.
var ErrNoPrevious = errors.New("no previous configuration to roll back to")

// StepError is a failure of one step of apply.
type StepError struct {
	Step Step
	Err  error
}

func (e *StepError) Error() string { return fmt.Sprintf("%s step failed: %v", e.Step, e.Err) }

func (e *StepError) Unwrap() error { return e.Err }

func fail(s Step, err error) error { return &StepError{Step: s, Err: err} }
