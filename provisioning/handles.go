package provisioning

import "github.com/google/go-tpm/tpm2"

// The TPM handles and NV indices this project owns. The NV indices sit in
// the owner range that TCG leaves unassigned, clear of systemd's
// 0x01800400-0x018005FF; README.md lists them too.
const (
	// PolicyKeyIndex holds the operator's policy-signing public key
	// (P-384 on PTT, P-256 on a discrete TPM); docs/provisioning.md
	// gives its layout.
	PolicyKeyIndex tpm2.TPMHandle = 0x018A0000
	// ConfigEpochIndex is the NV counter (TPM_NT_COUNTER) that holds the
	// epoch of the last configuration blob applied: tep-config's
	// rollback guard.
	ConfigEpochIndex tpm2.TPMHandle = 0x018A0001
	// LUKSRevocationIndex is the NV counter that tep-luks revoke raises
	// so that policies signed for an older epoch no longer unseal.
	LUKSRevocationIndex tpm2.TPMHandle = 0x018A0002

	// AESKeyHandle is the configuration AES key (AES-256 on PTT, AES-128
	// on a discrete TPM), usable only for EncryptDecrypt.
	AESKeyHandle tpm2.TPMHandle = 0x8100A000
	// LUKSHandle is the LUKS passphrase, sealed under PolicyAuthorize by
	// the policy key over PCRs 0, 7 and 10.
	LUKSHandle tpm2.TPMHandle = 0x8100A001
	// DeviceKeyHandle is the device's ECDH key (fixedTPM), to which a host
	// can encrypt configuration with no shared symmetric key.
	DeviceKeyHandle tpm2.TPMHandle = 0x8100A002
)
