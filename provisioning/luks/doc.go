// Package luks is tep-luks: a LUKS2 partition whose passphrase the TPM
// seals under a PCR policy that the operator signs (docs/luks.md).
//
// The admin side ([Sign], [SystemdSignature]) needs no TPM: it computes
// the policy digests with provisioning/pcrpolicy and signs the approved
// policy, and [Config] is the YAML file it writes. The device side is
// [Device]: [Device.Setup] seals a passphrase drawn from the TPM to
// provisioning.LUKSHandle and formats the partition (first boot, crash
// safe), [Device.Unlock] unseals it in a salted policy session and opens
// the partition with cryptsetup, [Device.Status] says why an unlock would
// fail, and [Device.Revoke] raises the revocation counter
// (provisioning.LUKSRevocationIndex) that the approved policy checks.
//
// The passphrase reaches cryptsetup only through a pipe inherited as a
// descriptor ([Cryptsetup]); it is never on a command line, in the
// environment or on disk, and is zeroed after use.
//
// Errors are the sentinels of errors.go, with TPM response codes kept in
// the chain. A Device is used by one goroutine at a time; the *tpm.TPM it
// holds may be shared.
package luks
