// Package attest holds the plain data that TEP's attestation agent and
// verifier exchange: what an agent sends to enrol (EK certificate, EK and
// AK public areas, host facts), the credential challenge and its answer,
// the evidence of one attestation (quote, signature, PCR values, IMA and
// boot event logs) and the faults a verifier finds in it.
//
// It is split as go-attestation is: the agent side (package attest/agent)
// opens a TPM and produces these structs; the verifier side consumes them
// and never touches a TPM. TPM structures travel as their TPM wire
// encodings (TPMT_PUBLIC, TPMS_ATTEST, TPMT_SIGNATURE), so that any TPM
// stack can check them and nothing is lost in translation; JSON carries
// byte strings in base64. docs/attestation.md shows real bodies.
package attest
