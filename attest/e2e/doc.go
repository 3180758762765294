// Package e2e holds the attestation's end-to-end tests and benchmarks:
// agents on swtpm TPMs manufactured with EK certificates from a local
// CA, synthetic IMA logs extended into PCR 10, and the verifier's API
// over HTTPS on a real SQLite store, in one process. It has no code of
// its own beyond this comment.
//
//	go test ./attest/e2e                       # the tests
//	go test ./attest/e2e -run TestEndToEnd -args -transcript FILE
//	                                           # the bodies of docs/attestation.md
//	go test ./attest/e2e -run '^$' -bench .    # the figures
package e2e
