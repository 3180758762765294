// Package imagen writes synthetic IMA measurement lists, in the
// templates "ima", "ima-ng" and "ima-sig" with violations among them,
// and computes the PCR 10 values they lead to in each bank. Tests use
// it to check the replay in package ima against a TPM and evmctl, and
// the fleet's load generator uses it to play many devices.
//
// The PCR values are computed here independently of package ima's
// replay (package ima only encodes the entries), so the two check each
// other. A Generator is deterministic for a seed and is not safe for
// concurrent use.
package imagen
