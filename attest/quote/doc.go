// Package quote checks an agent's quote on the verifier side, which
// holds no TPM: the AK's public area and name, the signature over the
// TPMS_ATTEST, the attestation structure itself (magic, type, nonce,
// qualified signer), the PCR digest against the reported values and
// banks, and the clock and counters against the last accepted quote
// (TPM 2.0 Part 2, 10.12 "Attestation Structures"; Part 3, 18.4
// "TPM2_Quote").
//
// Every failed check is an attest.Fault named by a constant of package
// attest; Verify returns an error only for inputs that are the
// verifier's own (an AK public area it should never have accepted).
//
// The AK is a primary key in the endorsement hierarchy (see package
// attest/agent), so its qualified name, which the TPM puts in the quote
// as qualifiedSigner, follows from its public area alone (TPM 2.0 Part 1,
// 16 "Names"), and the quote's clock, counters and firmware version are
// not obfuscated, as they would be for a key in the owner hierarchy
// (TPM 2.0 Part 3, 18.1).
//
// The package is stateless and safe for concurrent use: the state that
// carries from one quote to the next (State) is an input and an output,
// and the caller stores it.
package quote
