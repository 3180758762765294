// Package ekcert checks a TPM's endorsement key certificate on the
// verifier side: the chain up to a configured CA pool, the extensions of
// the TCG EK Credential Profile, and that the certified key is the EK
// public area the agent sent.
//
// Go's crypto/x509 refuses a certificate with a critical extension it
// does not handle, and the TCG profile makes the subject alternative name
// critical (the subject is empty) and fills it with a directoryName only,
// which x509 does not read: such a certificate fails with "unhandled
// critical extension". Verify reads that SAN itself (TPM manufacturer,
// model and version, as the TCG EK Credential Profile defines them) and, only
// when it reads, takes it off the unhandled list; any other unhandled
// critical extension still fails. The EK's extended key usage
// (tcg-kp-EKCertificate, 2.23.133.8.1) is checked here too, since x509
// knows only the usages of TLS and the like.
//
// The package is stateless and safe for concurrent use.
package ekcert
