// Package loadgen drives a verifier with simulated devices (package
// attest/simdevice), as tep-verifier loadgen does: every device is put
// on the verifier's EK allow list with an admin token (or enrols with
// its own one-time enrolment token) and enrols and activates its AK.
//
// Push mode (HTTPS): the devices then push evidence once an interval,
// their pushes spread evenly over it; Run measures the round trip of
// every evidence POST and the generator's own CPU time.
//
// NATS mode (Config.NATS): the devices enrol in NATS mode, as
// tep-attest enroll --nats does, and answer the verifier's quote
// requests over NATS (package attest/natsquote), each on a connection
// of its own as each real agent keeps one; the verifier's pull schedule
// drives the attestations. Run then counts the quotes answered and
// reads the verifier's own figures: its verification latency histogram
// and the reports it stored, from which it tells whether every device
// was attested within two intervals.
//
// It is a benchmark and test tool: the real agent never uses it.
//
// Concurrency: Run starts goroutines for the devices (in NATS mode,
// nats.go's own for each connection) while it runs and returns once
// they have all stopped; a Result is plain data.
package loadgen
