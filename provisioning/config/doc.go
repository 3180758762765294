// Package config applies signed and encrypted configuration blobs on the
// device (tep-config apply), rolls back to the previous configuration,
// reports status, and seals blobs on the host (tep-config seal).
//
// Apply runs in a fixed order and writes nothing to the destination until
// every check has passed: a bounded read and strict parse; the signature,
// with the policy key in the TPM's NV; the rollback guard against the
// TPM's epoch counter; decryption with the TPM's AES key or device key;
// extraction into a staging directory beside the destination; an atomic
// exchange of the staging directory with the destination, the previous
// one kept for rollback; the hooks the device's own settings allow for
// the files that changed; and only then the counter raised and the blob
// moved to applied/ with a record. A failure at any step names the step,
// leaves destination and counter as they were, and moves the blob to
// rejected/ with the reason.
//
// The TPM comes in through Device (TPMDevice on a real TPM), so the
// pipeline holds no TPM state of its own. One apply or rollback runs at a
// time per destination: each takes a lock file beside it.
package config
