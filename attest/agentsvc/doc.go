// Package agentsvc is the network side of TEP's attestation agent
// (tep-attest): enrolment against a verifier, the small HTTPS server of
// pull mode, and the schedule of push mode. The TPM side is a [Device]
// (package attest/agent's Agent); this package never opens a TPM.
//
// Both directions pin the verifier's certificate, kept in the agent's
// configuration: the agent trusts only it when it calls the verifier,
// and in pull mode answers only a client that presents it. The agent's
// own pull-mode certificate is made at enrolment and pinned by the
// verifier. Nothing disables certificate checks.
//
// Concurrency: the pull server answers one quote at a time (a second
// request meanwhile gets 503: the TPM serialises quotes anyway); Push
// and PushLoop may run beside it.
package agentsvc
