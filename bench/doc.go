// Package bench measures TEP beside its limits and its peers, side by side
// in one run, and reports medians, tails and ratios. Each measurement
// interleaves the systems it compares in short rounds, so that a noisy
// neighbour or a frequency change hits all alike.
//
// Link compares the framed link with a raw echo on a pty pair. P11
// compares PKCS#11 calls through TEP over a pty with SoftHSMv2 and
// tpm2-pkcs11 loaded directly and with p11-kit's RPC over a pty pair to
// each, and with a raw pty echo in the same rounds, and reports the
// memory of the servers and of the modules in a host. Crypto compares signing, verifying, AES, digests and key
// generation through TEP over a pty (tepd on swtpm and on its embedded
// simulator) with the same peers and with bare go-tpm commands on a
// loaded key on an swtpm of their own, the TPM's own limit. W7 has many
// processes on several of tepd's ports sign at once and compares their
// aggregate rate with the raw TPM's on an swtpm alone, one stream, run
// after them so that the two do not share the CPU. Soak keeps W7's processes signing for minutes while it
// kills them at random, and then checks what must survive and what must
// not leak. tpm2-pkcs11 runs on an swtpm of its own behind
// tpm2-abrmd on a private D-Bus session bus, or on the swtpm directly
// when tpm2-abrmd cannot run, which its systems' names then say.
//
// Summarize turns the results of Link, P11, Crypto and W7 into one row
// per workload, TEP beside each peer with its ratio to it, and judges
// the targets; it runs nothing.
//
// Nothing here asserts a time: it reports. The tep-bench command prints
// the results as a table or as JSON.
//
// Lifetime: P11 starts tepd, socat, p11-kit remote, for each tpm2-pkcs11
// system an swtpm, a dbus-daemon and a tpm2-abrmd, and one host process
// per module (the calling program run again with HostCommand, which must
// call P11Host), in a directory the caller owns, and stops every one of
// them before it returns. Crypto likewise, with two more swtpm instances
// (one for tepd, one for the raw TPM) and two tepd. W7 and Soak start an
// swtpm, one tepd and a host per process (for W7 then an swtpm for the
// raw TPM), and stop them likewise; Soak's killed hosts are reaped as
// they go. Children listen only on loopback ports and on unix sockets in
// that directory.
package bench
