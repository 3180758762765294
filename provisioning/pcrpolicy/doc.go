// Package pcrpolicy computes, with no TPM, the policy digests that
// tep-luks seals under and signs: the PolicyPCR digest over given PCR
// values, the PolicyNV term that ties a signature to a revocation epoch,
// the PolicyAuthorize digest of a signing key, and the signature over an
// approved policy that TPM2_VerifySignature accepts.
//
// Every digest is the standard construct of TPM 2.0 Part 3 (23.7
// PolicyPCR, 23.9 PolicyNV, 23.16 PolicyAuthorize) in a policy session
// whose hash is SHA-256, whatever the PCR bank: a sealed object's nameAlg
// and its policy session use SHA-256, and only the PCR values themselves
// come from the sha256 or sha384 bank. tpm2-tools' trial sessions
// (tpm2_policypcr, tpm2_policynv, tpm2_policyauthorize) give the same
// digests; the package's tests check that against swtpm.
//
// The package holds no state; its functions are safe for concurrent use.
package pcrpolicy
