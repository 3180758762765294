// Package bootlog verifies a TCG PC Client boot event log
// (binary_bios_measurements, crypto-agile format) against quoted PCR
// values: go-attestation parses the log and replays PCRs 0–7 in each
// bank, and this package adds what that replay leaves out — a PCR with
// no events in the log must still hold its initial value, and every bank
// is replayed on its own (go-attestation accepts a PCR when any one
// bank replays). The verified events carry tags (the EFI variable name,
// the text of an action or version event, and the event type's name)
// for flavors' event-log rules to select and exclude by.
//
// Verify is a pure function of its arguments, safe for concurrent use.
// Package bootlogtest builds logs for tests.
package bootlog
