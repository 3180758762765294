package loadgen

import "tep.dev/tep/attest/ima/imagen"

// NewIMALog returns a new IMA log source equal to the one Run's devices
// share: the same generator with the same seed, so that a golden device
// given this log (package simdevice, Config.IMA) runs the same files as
// Run's devices, and a runtime policy imported from it covers theirs up
// to its length.
func NewIMALog() (*imagen.Generator, error) {
	return imagen.New(imagen.Config{Banks: []string{"sha256", "sha384"}, Seed: 19})
}
