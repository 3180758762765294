package tail

import (
	"strings"
	"testing"
)

func TestBufferKeepsTheEnd(t *testing.T) {
	var b Buffer
	b.Write([]byte("start "))
	if got := b.String(); got != "start " {
		t.Errorf("String() = %q, want %q", got, "start ")
	}
	b.Write([]byte(strings.Repeat("x", DefaultSize)))
	b.Write([]byte("end"))
	got := b.String()
	if len(got) != DefaultSize || !strings.HasSuffix(got, "xend") || strings.Contains(got, "start") {
		t.Errorf("after more than DefaultSize bytes String() has %d bytes ending %q, want the last %d", len(got), got[max(0, len(got)-8):], DefaultSize)
	}
	small := Buffer{Size: 4}
	small.Write([]byte("abcdef"))
	if got := small.String(); got != "cdef" {
		t.Errorf("Buffer{Size: 4} after abcdef = %q, want cdef", got)
	}
}
