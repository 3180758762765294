// Package swtpm starts swtpm, the software TPM 2.0 that TEP's tests and
// bench use in place of a chip, and reads the addresses that name one.
//
// It is the one launcher of swtpm: package tpm/tpmtest wraps [Start] for
// tests, and the bench (a command, which must not link package testing)
// calls it directly. Package tpm uses [ParseAddr] to reach the swtpm an
// "swtpm:..." spec names, so the address format has one home too.
//
// Lifetime: a [Process] is swtpm running as a child of this process until
// [Process.Stop], which is safe to call more than once and from several
// goroutines; if this process dies first, the kernel sends swtpm SIGTERM
// (Pdeathsig). A Unix-socket swtpm's sockets live in a directory of their
// own that Stop removes.
package swtpm
