package attest

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxPeerText bounds what the verifier keeps of text a peer sent (an
// agent's error, a host id it claimed) in its errors, logs and store.
const MaxPeerText = 256

// Clip makes text from a peer safe to log and store: valid UTF-8 (a
// PostgreSQL TEXT column refuses anything else, and a refused write
// would hide the failure it records), control characters (NUL, line
// breaks that would forge log lines) replaced by U+FFFD, and at most
// max bytes, cut at a rune boundary, with "…" when cut.
func Clip(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return utf8.RuneError
		}
		return r
	}, s)
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
