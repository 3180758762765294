package main

import "testing"

func TestPadBytes(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"TEP", 8, "TEP     "},
		{"", 4, "    "},
		{"exactly8", 8, "exactly8"},
		{"much too long", 4, "much"},
		{"Zürich", 2, "Z "}, // ü is two bytes: never cut in half
		{"Zürich", 3, "Zü"}, // …and fits whole when it can
		{"€uro", 2, "  "},   // a three-byte rune that does not fit at all
		{"日本語", 7, "日本 "},   // byte-wise padding after multi-byte text
	} {
		dst := make([]byte, tt.n)
		padBytes(dst, tt.in)
		if string(dst) != tt.want {
			t.Errorf("padBytes(%q, %d) = %q, want %q", tt.in, tt.n, dst, tt.want)
		}
	}
}
