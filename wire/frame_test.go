package wire

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// collect feeds stream to a fresh scanner in pieces of chunk bytes, calling
// Idle at the end as a quiet line would, and returns the bodies found.
func collect(t *testing.T, stream []byte, chunk int) ([][]byte, ScanStats) {
	t.Helper()
	var s Scanner
	var got [][]byte
	drain := func() {
		for {
			_, body, ok := s.Next()
			if !ok {
				return
			}
			got = append(got, bytes.Clone(body))
		}
	}
	for len(stream) > 0 {
		n := min(chunk, len(stream))
		s.Feed(stream[:n])
		stream = stream[n:]
		drain()
	}
	for s.Idle() {
		drain()
	}
	return got, s.Stats
}

func frame(body []byte) []byte { return AppendFrame(nil, body, len(body), 0) }

func TestFrameRoundTrip(t *testing.T) {
	for _, n := range []int{1, 2, 100, MaxBody} {
		body := bytes.Repeat([]byte{0xA5}, n)
		got, st := collect(t, frame(body), 4096)
		if len(got) != 1 || !bytes.Equal(got[0], body) {
			t.Fatalf("frame of %d bytes: got %d frames", n, len(got))
		}
		if st.Dropped != 0 {
			t.Errorf("frame of %d bytes: dropped %d bytes", n, st.Dropped)
		}
	}
}

func TestScannerResynchronises(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	garbage := make([]byte, 5000)
	for i := range garbage {
		garbage[i] = byte(r.Uint32())
	}
	good := []byte("the next valid frame")
	valid := frame(good)

	badBody := frame([]byte("corrupted body"))
	badBody[HeaderSize+3] ^= 0x40
	badHeader := frame([]byte("corrupted header"))
	badHeader[7] ^= 0x01
	// An absurd length with a correct header CRC: a sender bug, not noise.
	absurd := frame([]byte("absurd"))
	putTotal(absurd, 1<<31)
	big := frame(bytes.Repeat([]byte{'x'}, 3000))

	tests := []struct {
		name   string
		before []byte
		stat   func(ScanStats) uint64
	}{
		{"garbage", garbage, func(s ScanStats) uint64 { return s.Dropped }},
		{"sync marker in garbage", append(append(bytes.Clone(garbage[:50]), Sync[:]...), garbage[:30]...), func(s ScanStats) uint64 { return s.BadHeader }},
		{"truncated frame", big[:1000], func(s ScanStats) uint64 { return s.BadBody + s.Truncated }},
		{"truncated header", big[:10], func(s ScanStats) uint64 { return s.BadHeader + s.Truncated }},
		{"bad body CRC", badBody, func(s ScanStats) uint64 { return s.BadBody }},
		{"bad header CRC", badHeader, func(s ScanStats) uint64 { return s.BadHeader }},
		{"absurd length", absurd, func(s ScanStats) uint64 { return s.BadLength }},
	}
	for _, tt := range tests {
		for _, chunk := range []int{1, 7, 4096} {
			stream := append(bytes.Clone(tt.before), valid...)
			got, st := collect(t, stream, chunk)
			if len(got) != 1 || !bytes.Equal(got[0], good) {
				t.Errorf("%s (chunk %d): got %q, want only %q", tt.name, chunk, got, good)
			}
			if tt.stat(st) == 0 {
				t.Errorf("%s (chunk %d): not counted: %v", tt.name, chunk, st)
			}
		}
	}
}

// putTotal rewrites a frame's total field and fixes the header CRC.
func putTotal(f []byte, total uint32) {
	f[10], f[11], f[12], f[13] = byte(total), byte(total>>8), byte(total>>16), byte(total>>24)
	c := CRC16(f[6:HeaderSize])
	f[4], f[5] = byte(c), byte(c>>8)
}

func TestTruncatedFrameNeedsIdle(t *testing.T) {
	// A truncated frame that claims more bytes than follow hides the next
	// frame until the line goes idle; Idle then uncovers it.
	var s Scanner
	s.Feed(frame(bytes.Repeat([]byte{'x'}, 3000))[:100])
	s.Feed(frame([]byte("next")))
	if _, _, ok := s.Next(); ok {
		t.Fatal("Next returned a frame while the truncated frame is pending")
	}
	if !s.Idle() {
		t.Fatal("Idle() = false with a partial frame buffered")
	}
	_, body, ok := s.Next()
	if !ok || string(body) != "next" {
		t.Fatalf("after Idle: Next() = %q, %v, want \"next\", true", body, ok)
	}
}

func TestAssembler(t *testing.T) {
	msg := make([]byte, 3*MaxBody+17)
	for i := range msg {
		msg[i] = byte(i * 7)
	}
	frames := AppendFrames(nil, msg)
	tests := []struct {
		name   string
		stream []byte
		want   int // messages completed
	}{
		{"whole", frames, 1},
		{"first frame lost", frames[MaxFrame:], 0},
		{"middle frame lost, then whole", append(append(bytes.Clone(frames[:MaxFrame]), frames[2*MaxFrame:]...), frames...), 1},
		{"restarted message", append(bytes.Clone(frames[:2*MaxFrame]), frames...), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Scanner
			a := Assembler{MaxMessage: len(msg)}
			s.Feed(tt.stream)
			var got [][]byte
			for {
				h, body, ok := s.Next()
				if !ok {
					break
				}
				m, err := a.Add(h, body)
				if m != nil && err == nil {
					got = append(got, bytes.Clone(m))
				}
			}
			if len(got) != tt.want {
				t.Fatalf("completed %d messages, want %d", len(got), tt.want)
			}
			for _, m := range got {
				if !bytes.Equal(m, msg) {
					t.Fatal("reassembled message differs")
				}
			}
		})
	}
}

func TestAssemblerLimit(t *testing.T) {
	a := Assembler{MaxMessage: 1000}
	h := Header{Size: 10, Total: 1001, Offset: 0}
	if _, err := a.Add(h, make([]byte, 10)); err == nil {
		t.Fatal("Add of a message over the limit succeeded")
	}
	if cap(a.buf) != 0 {
		t.Errorf("buffer of %d bytes allocated for a rejected message", cap(a.buf))
	}
}

func TestScannerLimit(t *testing.T) {
	s := Scanner{MaxMessage: 1000}
	f := frame([]byte("x"))
	putTotal(f, 1001)
	s.Feed(f)
	if _, _, ok := s.Next(); ok {
		t.Fatal("frame declaring a message over the limit was accepted")
	}
	if s.Stats.BadLength != 1 {
		t.Errorf("BadLength = %d, want 1", s.Stats.BadLength)
	}
}

func TestAssemblerTrimAndReset(t *testing.T) {
	msg := make([]byte, MaxBody+10)
	frames := AppendFrames(nil, msg)
	var a Assembler
	var s Scanner
	s.Feed(frames[:MaxFrame])
	h, body, ok := s.Next()
	if !ok {
		t.Fatal("no first frame")
	}
	if _, err := a.Add(h, body); err != nil || !a.Active() {
		t.Fatalf("after the first frame: %v, active %v", err, a.Active())
	}
	a.Trim(0) // a partial message keeps its buffer
	s.Feed(frames[MaxFrame:])
	h, body, _ = s.Next()
	if got, err := a.Add(h, body); err != nil || len(got) != len(msg) || a.Active() {
		t.Fatalf("after the last frame: %d bytes, %v, active %v", len(got), err, a.Active())
	}
	if a.Trim(1 << 20); a.buf == nil {
		t.Error("Trim(1 MiB) dropped a buffer of 64 KiB")
	}
	if a.Trim(1024); a.buf != nil {
		t.Error("Trim(1 KiB) kept a buffer of 64 KiB")
	}
	s.Feed(frames[:MaxFrame])
	h, body, _ = s.Next()
	a.Add(h, body)
	if a.Reset(); a.Active() || a.buf != nil || a.Broken != 1 {
		t.Errorf("after Reset: active %v, buffer %v, broken %d; want a dropped partial message", a.Active(), a.buf != nil, a.Broken)
	}
}
