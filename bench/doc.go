// Package bench measures TEP beside its limits and its peers, side by side
// in one run, and reports medians, tails and ratios. Each measurement
// interleaves the systems it compares in short rounds, so that a noisy
// neighbour or a frequency change hits all alike.
//
// Link compares the framed link with a raw echo on a pty pair. P11
// compares PKCS#11 calls through TEP over a pty with SoftHSMv2 loaded
// directly and with p11-kit's RPC over a pty pair, and reports the memory
// of the servers and of the modules in a host. Crypto compares signing,
// verifying, AES, digests and key generation through TEP over a pty (tepd
// on swtpm and on its embedded simulator) with SoftHSMv2 and with package
// tpm on swtpm directly, the TPM's own limit.
//
// Nothing here asserts a time: it reports. The tep-bench command prints
// the results as a table or as JSON.
//
// Lifetime: P11 starts tepd, socat, p11-kit remote and one host process
// per module (the calling program run again with HostCommand, which must
// call P11Host), in a directory the caller owns, and stops every one of
// them before it returns. Crypto likewise, with two swtpm instances and
// two tepd.
package bench
