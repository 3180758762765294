// Package ima reads the Linux IMA measurement list
// (/sys/kernel/security/ima/binary_runtime_measurements) and replays it
// into PCR 10, per bank, the way kernels from 5.10 on extend it.
//
// The list is a sequence of entries, each: PCR index (u32), the SHA-1
// template hash (20 bytes), the template name (u32 length, bytes), and
// the template data. For every template except "ima" the data carries its
// own u32 length and is a run of (u32 length, bytes) fields; the legacy
// "ima" template writes its 20-byte digest with no length and its file
// name (u32 length, bytes, no NUL) with no data length before them.
// Integers are in the host's byte order; this package reads little-endian,
// which is both the canonical format (ima_canonical_fmt) and the order of
// every platform TEP runs on.
//
// Replay: for each bank the kernel hashes the template data with that
// bank's algorithm (for "ima", the digest followed by the name padded with
// zeros to 256 bytes) and extends PCR 10 with the result; a violation
// (a template hash of all zeros in the log) extends every bank with
// all-0xFF bytes of the bank's digest size. Pre-5.10 kernels instead
// extended the SHA-1 template hash, zero-padded, into every bank; this
// package refuses that scheme, so a log from such a kernel does not
// replay.
//
// A [State] holds PCR 10 per bank after a number of entries, so that a
// verifier continues from the last accepted report and pays only for the
// new entries. Entries may name a PCR other than 10 (an IMA policy's
// pcr= rule); they are counted but not extended into PCR 10.
//
// Parsing is bounded by [Limits]: entry count and field sizes are checked
// before anything is kept. Parsed entries point into the caller's buffer,
// which must not change while they are used. Nothing here keeps global
// state; a State is not safe for concurrent use.
package ima
