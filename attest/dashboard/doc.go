// Package dashboard is the verifier's web page for operators: the
// fleet's counts (trusted, untrusted, stale, never attested), a host
// list sorted on the server by name, state or last report, a host page
// with its latest trust report (each rule, each fault with its expected
// and actual values) and a chart of its trust history.
//
// Pages are rendered on the server with html/template from templates
// embedded in the binary; there is no JavaScript and nothing is loaded
// from elsewhere (the chart is inline SVG, the style sheet is served by
// the dashboard itself). Host ids, facts and fault texts come from
// devices: html/template escapes every one of them for its context, and
// the Content-Security-Policy allows no script at all.
//
// A host is stale when its newest stored report is older than
// StaleAfter times the attestation interval: evidence that was refused
// (a replayed nonce, another AK's quote) stores no report, so it does
// not keep a host fresh. States are exclusive, in this order: never
// attested (no report), stale, then trusted or untrusted by the newest
// report.
//
// Every page is a GET without side effects, so a forged cross-site
// request can do nothing; the dashboard does no authentication of its
// own: the caller wraps it in the API's operator check (an auditor or
// admin bearer token, or a client certificate from the operators' CA).
//
// Concurrency: a Dashboard is safe for concurrent use. Lifetime: New at
// start; it holds nothing but its store.
package dashboard
