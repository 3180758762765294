// Package verifier is the attestation verifier's logic, between the HTTP
// API (package attest/api) and the store (package attest/store): the
// enrolment state machine, single-use nonces, and the orchestration of
// every check on a host's evidence into a signed trust report kept with
// its history. It never touches a TPM: plain data in, verdict out.
//
// Enrolment: [Verifier.Enroll] first makes the cheap checks
// ([Verifier.CheckEnroll]: bounds, the one-time enrolment token looked
// up without spending it, or the EK found on the allow list), so that a
// flood from unknown EKs is refused for a database lookup each; then it
// checks the AK's attributes and the EK certificate chain, spends the
// token once every check has passed, and answers with only a credential blob made for the
// EK and the AK's name; it keeps a hash of the secret, never the secret.
// [Verifier.Activate] compares the returned secret's hash within the
// enrolment's lifetime and only then binds the AK to the host, which is
// bound to its EK for good. A host that brings a new AK enrols and
// activates again; until then its quotes are checked against the old AK.
//
// Attestation: [Verifier.Challenge] issues a fresh nonce that expires and
// can be spent once; [Verifier.Attest] spends it and appraises the
// evidence; [Verifier.Pull] asks a pull-mode agent for evidence and
// [Verifier.PullLoop] does so for every pull-mode host on a schedule.
// A pull goes over the transport its host's pull URL names
// ([Transports]: HTTPS, or NATS for agents behind NAT), and its outcome
// is kept as the host's contact when the store keeps contacts
// ([ContactBook]): a host that cannot be attested is stale, and no
// report is made for it.
//
// Replicas: any number of Verifiers (processes) on one store share the
// scheduled pulls through the store's claims (store.Scheduler): each
// host is claimed by one replica at a time under a lease longer than a
// pull may last, released when done, and taken by another replica when
// the lease lapses (its replica died). A scheduled pull stores its
// report only if the host's state is still the one it claimed, so work
// that two replicas both start is stored once.
//
// Concurrency: a Verifier is safe for concurrent use; two appraisals of
// one host do not both build on one state (the store refuses the
// second). Lifetime: New, then use; it holds no resources of its own.
package verifier
