// Package simdevice simulates attesting devices for the verifier's load
// generator (tep-verifier loadgen) and for tests: each [Device] holds its
// EK and AK in software, has an EK certificate from a software EK CA
// ([CA]), and produces what the real agent (package attest/agent)
// produces, as the plain structs of package attest: an enrolment, the
// answer to a credential challenge (ActivateCredential done in software,
// TPM 2.0 Part 1, 24 and Part 3, 12.5) and evidence for a quote request
// (a TPMS_ATTEST quote signed by the AK, PCR values, and an IMA log that
// grows by a set number of entries per report, replaying to PCR 10).
//
// It is production code that the real agent never uses: keys held in
// memory prove nothing about a device, and the verifier trusts these
// devices only because the test EK CA is in its bundle.
//
// Cost: a fleet of thousands reporting every minute must cost the load
// generator little CPU, so the devices share one IMA log (each device's
// log is a prefix of it, at its own length) with PCR 10 kept for every
// prefix, and a report costs one signature, a PCR digest and no copy of
// the log.
//
// Concurrency: a Device's and a Fleet's methods are safe for concurrent
// use; a Device serialises its own reports, as a TPM would.
package simdevice
