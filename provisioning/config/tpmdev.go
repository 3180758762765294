package config

import (
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"fmt"

	"tep.dev/tep/provisioning"
	"tep.dev/tep/provisioning/device"
	"tep.dev/tep/tpm"
)

// TPMDevice is the Device of a TPM that tep-provision provisioned
// (package provisioning/device): the policy key in NV, the epoch counter
// at provisioning.ConfigEpochIndex, the AES key and the device key at
// their handles. What is missing is reported with an error wrapping
// device.ErrNotProvisioned that says which tep-provision command to run.
type TPMDevice struct{ T *tpm.TPM }

// PolicyKey reads the policy-signing key from NV.
func (d TPMDevice) PolicyKey() (*ecdsa.PublicKey, error) { return device.PolicyKey(d.T) }

// Epoch reads the epoch counter. One that is not defined or not started
// is an error wrapping device.ErrNotProvisioned, not 0: tep-provision
// device starts it, and an owner who undefines it must not open the
// rollback guard to every old blob (the TPM starts a new counter above
// every count it had, but only once it is raised, after the hooks).
func (d TPMDevice) Epoch() (uint64, error) {
	v, defined, err := device.ReadCounter(d.T, provisioning.ConfigEpochIndex)
	if err == nil && (!defined || v == 0) {
		err = fmt.Errorf("%w: the epoch counter NV 0x%08x is not started; run `tep-provision device`", device.ErrNotProvisioned, uint32(provisioning.ConfigEpochIndex))
	}
	return v, err
}

// RaiseEpoch raises the epoch counter to to, defining it if need be.
func (d TPMDevice) RaiseEpoch(to uint64) error {
	return device.RaiseCounter(d.T, provisioning.ConfigEpochIndex, to)
}

// NewCTR is AES-CTR with the key at provisioning.AESKeyHandle.
func (d TPMDevice) NewCTR(iv []byte) (cipher.Stream, error) { return device.NewCTR(d.T, iv) }

// ZGen is TPM2_ECDH_ZGen with the key at provisioning.DeviceKeyHandle.
func (d TPMDevice) ZGen(peer *ecdh.PublicKey) ([]byte, error) { return device.ZGen(d.T, peer) }
