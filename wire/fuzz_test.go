package wire

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// seeds returns the golden files of testdata/ for the fuzzers' corpus.
func seeds(f *testing.F) [][]byte {
	f.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "*.frame"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no seed frames in testdata/: %v", err)
	}
	var out [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzScanner: any byte stream, fed in any chunk size, yields only frames
// that re-encode to bytes present in the stream, and the scanner's buffer
// stays within two frames.
func FuzzScanner(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s, uint8(3))
		f.Add(append(append([]byte("noise\x7eTE"), s...), s[:len(s)/2]...), uint8(200))
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		s := Scanner{MaxMessage: 1 << 20}
		step := int(chunk) + 1
		check := func() {
			for {
				h, body, ok := s.Next()
				if !ok {
					return
				}
				re := AppendFrame(nil, body, h.Total, h.Offset)
				if !bytes.Contains(data, re) {
					t.Fatalf("frame %+v re-encodes to bytes not in the input", h)
				}
			}
		}
		for rest := data; len(rest) > 0; {
			n := min(step, len(rest))
			s.Feed(rest[:n])
			rest = rest[n:]
			check()
			if cap(s.buf) > 2*MaxFrame {
				t.Fatalf("scanner buffer grew to %d bytes", cap(s.buf))
			}
		}
		for s.Idle() {
			check()
		}
	})
}

// FuzzAssembler: frames found in any stream never produce a message over
// the limit or a buffer over it, and every message reframes to frames that
// reassemble to itself.
func FuzzAssembler(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
		f.Add(append(bytes.Clone(s), s...))
	}
	// A message in three small frames keeps the inputs small enough for
	// the fuzzer to mutate and minimise quickly.
	msg := bytes.Repeat([]byte{0x42}, 300)
	var multi []byte
	for off := 0; off < len(msg); off += 100 {
		multi = AppendFrame(multi, msg[off:off+100], len(msg), off)
	}
	f.Add(multi)
	f.Add(multi[HeaderSize+100:])
	const limit = 1 << 18
	f.Fuzz(func(t *testing.T, data []byte) {
		s := Scanner{MaxMessage: 1 << 30} // let the assembler enforce its own limit
		a := Assembler{MaxMessage: limit}
		s.Feed(data)
		for {
			h, body, ok := s.Next()
			if !ok {
				break
			}
			msg, err := a.Add(h, body)
			if cap(a.buf) > limit {
				t.Fatalf("assembler buffer of %d bytes, limit %d", cap(a.buf), limit)
			}
			if err != nil || msg == nil {
				continue
			}
			if len(msg) > limit {
				t.Fatalf("message of %d bytes, limit %d", len(msg), limit)
			}
			msg = bytes.Clone(msg)
			var s2 Scanner
			var a2 Assembler
			s2.Feed(AppendFrames(nil, msg))
			var got []byte
			for {
				h, body, ok := s2.Next()
				if !ok {
					break
				}
				if m, err := a2.Add(h, body); err != nil {
					t.Fatal(err)
				} else if m != nil {
					got = m
				}
			}
			if !bytes.Equal(got, msg) {
				t.Fatal("reframed message does not reassemble to itself")
			}
		}
	})
}

// FuzzMessage: Decode never panics, and whatever it accepts encodes back
// to the same bytes.
func FuzzMessage(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s[HeaderSize:])
	}
	f.Add([]byte{0x96, 1, 0, 1, 2, 3, 0x93, 0xc4, 1, 0, 0xa1, 'x', 0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		var m Message
		if err := m.Decode(data); err != nil {
			return
		}
		if got := m.Append(nil); !bytes.Equal(got, data) {
			t.Fatalf("Append(Decode(% x)) = % x", data, got)
		}
	})
}
