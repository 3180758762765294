// Package loadgen drives a verifier with simulated devices (package
// attest/simdevice) over its HTTPS push API, as tep-verifier loadgen does:
// every device is put on the verifier's EK allow list with an admin
// token (or enrols with its own one-time enrolment token), enrols and
// activates its AK, then pushes evidence once an interval, the devices'
// pushes spread evenly over it; Run measures the round trip of every
// evidence POST and the generator's own CPU time.
//
// It is a benchmark and test tool: the real agent never uses it.
//
// Concurrency: Run starts one goroutine per device while it runs and
// returns once they have all stopped; a Result is plain data.
package loadgen
