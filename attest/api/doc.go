// Package api is the attestation verifier's HTTPS interface: the REST
// API of tep-verifier serve (agents' enrolment and evidence endpoints,
// operators' hosts, flavors, flavor groups and templates, reports, and
// health), its authentication and limits, and a client for it that the
// agent and the operator's commands use.
//
// Agents reach only /v1/agent/...: enrolment (a one-time token or an EK
// on the allow list), activation, challenges and evidence, all of which
// prove themselves by TPM constructs. Every other endpoint but
// /v1/health needs an operator: a bearer token (tep-verifier token
// create) or a TLS client certificate issued by the configured client
// CA, whose organisational unit names the role. The admin role changes
// hosts and policies; the auditor role reads.
//
// Every request is bounded: its body (http.MaxBytesReader), its JSON
// (unknown fields and trailing data refused), its time, and the number
// of evidence requests appraised at once. Enrolments are rate-limited
// (limits.go, package attest/throttle): a source address that has been
// refused too often is answered 429 before its request is read, and an
// enrolment that passed the cheap checks (a token that exists, or an EK
// on the allow list) takes its costly work from one global bucket; a
// 429 carries a Retry-After, which [Client.Enroll] and
// [Client.Activate] honour. The source is the connection's address:
// X-Forwarded-For and the like are never read. Challenges, evidence
// and the operators' endpoints are not limited by these buckets. A bad request gets a 4xx with
// a JSON message, {"error": "...", "fault": {...}}; errors become
// statuses in one place (errors.go).
//
// [Server.Operators] puts the same operator check in front of handlers
// that the command mounts beside the API (the dashboard, /metrics), and
// [Server.Route] names the pattern a request matched, for metrics.
//
// Concurrency: a Server's handler is safe for concurrent use.
package api
