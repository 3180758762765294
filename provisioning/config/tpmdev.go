package config

import (
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"

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

// Epoch reads the epoch counter: 0 while it is not defined or started.
func (d TPMDevice) Epoch() (uint64, error) {
	v, _, err := device.ReadCounter(d.T, provisioning.ConfigEpochIndex)
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
