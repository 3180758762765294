package device

import "errors"

// The package's sentinels. The TPM's own response codes stay in the
// chain behind them (errors.Is(err, tpm2.TPMRCHandle) and the like).
var (
	// ErrNotProvisioned means the TPM lacks what tep-provision writes: the
	// policy key's NV index, the AES key, the device key, or has one in a
	// state this package does not trust (an index left writable). The
	// error's text names the command that fixes it.
	ErrNotProvisioned = errors.New("device not provisioned")
	// ErrConflict means the TPM already holds something else where
	// tep-provision would write: another policy key, another AES key. The
	// error's text names the handle and the fingerprint found; the
	// owner's --replace overwrites it.
	ErrConflict = errors.New("device provisioned with something else")
	// ErrCounterAhead means an NV counter is already above the value it
	// was to be raised to. A TPM counter only counts up, so the caller
	// must pick a value above the counter's.
	ErrCounterAhead = errors.New("counter already above the value asked for")
	// ErrRaiseTooFar means a raise would take more than MaxRaise
	// increments of an NV counter.
	ErrRaiseTooFar = errors.New("counter raise too far")
)
