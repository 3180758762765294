// Package agent is the device side of TEP's attestation: it enrols a
// TPM with a verifier (EK certificate, EK public area, a fresh AK, host
// facts), answers the verifier's credential challenge with
// TPM2_ActivateCredential, and quotes PCRs with the verifier's nonce,
// sending the IMA and boot event logs beside the quote. It produces and
// consumes the plain structs of package attest and never judges them:
// that is the verifier's job.
//
// # The endorsement key
//
// The EK is recreated from the TCG default template of the certificate
// found in NV (TCG EK Credential Profile for TPM Family 2.0, annex B: RSA 2048 at
// 0x01C00002, template L-1; ECC P-256 at 0x01C0000A, L-2; ECC P-384 at
// 0x01C00016, H-3), and Enroll checks that the recreated key is the
// certified one. For ActivateCredential the low-range EKs are
// authorised by a policy session with PolicySecret(TPM_RH_ENDORSEMENT),
// as their authPolicy (policy A) demands; the H-3 template sets
// userWithAuth, and its policy (policy B, an OR of policy A and an
// NV-based branch) is not needed: its empty authValue authorises it.
//
// # The attestation key
//
// The AK is a primary key in the endorsement hierarchy, derived from the
// endorsement seed and a template whose unique field holds 32 random
// bytes, so that each enrolment makes a new key. Config.StateDir keeps
// that template (agent.json); the AK is recreated from it for each use
// and flushed after, and its name is checked against the enrolled one.
// No private key material is stored at all, and:
//   - the verifier can compute the AK's qualified name, which the TPM
//     puts in every quote as qualifiedSigner, from its public area alone
//     (TPM 2.0 Part 1, 16), so it checks the signer of every quote;
//   - the quote's resetCount, restartCount and firmwareVersion are not
//     obfuscated, as they are for keys in the owner hierarchy (TPM 2.0
//     Part 3, 18.1), so the verifier can check them.
//
// A new Enroll replaces the AK (and the template); the verifier must
// activate the new one before it trusts its quotes.
//
// # Concurrency and lifetime
//
// An Agent is safe for concurrent use; TPM work runs under the TPM's
// lock (tpm.TPM.Do). The Agent does not own the *tpm.TPM: closing it is
// the caller's business. The endorsement hierarchy's authValue must be
// empty, as it is unless someone set one.
package agent
