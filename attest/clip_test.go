package attest

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClip(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"TPM busy", "TPM busy"},
		{"a\x00b\nc", "a\uFFFDb\uFFFDc"},
		{"bad \xff", "bad \uFFFD"},
		{strings.Repeat("é", 10), strings.Repeat("é", 4) + "…"}, // 9 bytes: the fifth é would be split
	} {
		if got := Clip(tc.in, 9); got != tc.want {
			t.Errorf("Clip(%q, 9) = %q, want %q", tc.in, got, tc.want)
		}
	}
	long := Clip(strings.Repeat("x", 8<<20), MaxPeerText)
	if len(long) > MaxPeerText+len("…") || !utf8.ValidString(long) {
		t.Errorf("Clip of 8 MiB: %d bytes", len(long))
	}
}
