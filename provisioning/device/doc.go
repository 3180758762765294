// Package device is the device side of TEP's provisioning: what
// tep-provision writes into the TPM, and the reads and uses of it that
// tep-config and tep-luks build on.
//
// What it keeps in the TPM (the handles are in package provisioning;
// docs/provisioning.md gives the layouts and the tpm2-tools commands that
// read them):
//
//   - the operator's policy-signing public key, in NV index
//     provisioning.PolicyKeyIndex: exactly its DER SubjectPublicKeyInfo,
//     written once and then write-locked, so that only the owner's
//     undefine (tep-provision device --replace) changes it;
//   - the configuration AES key, imported and made persistent at
//     provisioning.AESKeyHandle, usable only by TPM2_EncryptDecrypt(2);
//   - the device's ECDH key, made in the TPM (fixedTPM) and persistent at
//     provisioning.DeviceKeyHandle;
//   - rollback counters (TPM_NT_COUNTER) at provisioning.ConfigEpochIndex
//     and provisioning.LUKSRevocationIndex, which only the owner raises.
//
// Every function takes an open *tpm.TPM and is safe to call concurrently
// with others on the same TPM: each TPM command runs under the TPM's lock,
// and sequences that load objects run inside tpm.TPM.Do. A stream from
// NewCTR is not safe for concurrent use by itself, as no cipher.Stream is.
//
// A handle or index that is missing is reported with an error wrapping
// ErrNotProvisioned, whose text names the tep-provision command that
// writes it. The owner hierarchy's authorization must be empty, as the
// tpm package already assumes for its storage key.
package device
