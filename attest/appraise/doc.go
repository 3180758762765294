// Package appraise is the verifier's appraisal: it runs every check on a
// host's evidence, in order, and signs the trust report. It implements
// verifier.Appraiser and verifier.PolicyBook over the check packages:
// attest/quote (signature, nonce, signer, PCR digest and banks, clock and
// counters), attest/ima (per-bank replay of the IMA log to the quoted
// PCR 10, continued from the last report), attest/bootlog (the boot
// event log replayed to PCRs 0-7), attest/flavor (the host's flavor
// group, its flavors and their runtime policy) and attest/report (the
// JWS).
//
// Evidence that is not the enrolled AK's answer to the verifier's nonce
// (bad signature, wrong signer, wrong nonce, not TPM-generated, an AK
// never activated) is rejected: no report is stored, so a stranger
// cannot make a host look untrusted. Every other failed check is a
// fault in a stored, signed report.
//
// What one report hands the next (verifier.State): the quote's counters
// and clock, accepted only from a quote with no counter or clock fault;
// the IMA replay (PCR 10 per bank after the accepted entries), restarted
// when the TPM's reset or restart count changes (a reboot starts a new
// log); and the runtime-policy faults seen since that restart, which
// stay in every later report of the boot (a file that ran once has run).
//
// Concurrency: an Appraiser is safe for concurrent use. Between calls it
// keeps only the stored flavors it read (at most Config.PolicyTTL ago),
// checked once per distinct row by a flavor.Cache: a row's signature is
// verified and its runtime policy compiled when its bytes are new, not
// for every report.
package appraise
