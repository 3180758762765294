// Package tpmtest gives tests a TPM to run against: an swtpm of their own,
// started by the one launcher (internal/swtpm) and stopped when the test
// ends. It is a test-helper package, as net/http/httptest is: it imports
// testing, so no command and not the module may import it
// (tests/deps_test.go checks).
//
// Concurrency: each call starts its own swtpm, on its own ports or
// sockets and state, so parallel tests do not share one.
package tpmtest
