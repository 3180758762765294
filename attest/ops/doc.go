// Package ops is what an operator's monitoring reads from the verifier:
// Prometheus metrics at /metrics (attestations by result, faults by
// name, the queue of due attestations, the appraisal latency, HTTP
// requests by route and status, and enrolments refused by reason), a liveness probe at /healthz and a
// readiness probe at /readyz.
//
// Metrics are kept in a registry of the Metrics value's own, never in
// Prometheus' global one, so that two verifiers in one test process do
// not share counters. The verifier's parts are instrumented by wrapping
// them ([Metrics.Appraiser], [Metrics.Fetcher], [Metrics.Middleware])
// rather than by calls inside them: the verifier knows nothing of
// Prometheus.
//
// Route labels are the patterns the HTTP multiplexers matched (such as
// "GET /v1/hosts/{id}"), never raw paths, so that a client cannot grow
// the number of series by asking for made-up URLs.
//
// Concurrency: Metrics and Health are safe for concurrent use. Lifetime:
// make one of each at start and keep them for the process.
package ops
