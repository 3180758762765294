package luks

import "errors"

// The package's sentinels; cmd/tep-luks maps them to exit codes. TPM
// response codes stay in the chain behind them.
var (
	// ErrConfig means the YAML configuration is malformed: unknown or
	// missing fields, digests that do not follow from its values.
	ErrConfig = errors.New("invalid LUKS configuration")
	// ErrSignature means the configuration's signature does not verify
	// with the policy key in NV, or was made by another key.
	ErrSignature = errors.New("LUKS configuration not signed by this device's policy key")
	// ErrRevoked means the configuration's epoch is below the TPM's
	// revocation counter: tep-luks revoke has retired it.
	ErrRevoked = errors.New("LUKS configuration revoked")
	// ErrPCRMismatch means the current PCR values are not the signed
	// ones; the error's text names the PCRs that moved.
	ErrPCRMismatch = errors.New("PCR values differ from the signed ones")
	// ErrNotSealed means the TPM holds no sealed passphrase at
	// provisioning.LUKSHandle.
	ErrNotSealed = errors.New("no sealed LUKS passphrase")
	// ErrForeignLUKS means the partition holds a LUKS header that the
	// sealed passphrase does not open: tep-luks never formats it unless
	// told to destroy its data.
	ErrForeignLUKS = errors.New("partition holds a LUKS volume that the sealed passphrase does not open")
	// ErrInUse means a partition with no LUKS header holds something
	// else (a filesystem, a partition table): tep-luks formats only empty
	// partitions unless told to destroy their data.
	ErrInUse = errors.New("partition holds data")
	// ErrNotConfirmed means a destructive step was not confirmed.
	ErrNotConfirmed = errors.New("not confirmed")
)
