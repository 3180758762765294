package wire

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMessageRoundTrip(t *testing.T) {
	body := mustMarshal(t, []any{uint64(7), []byte("payload"), "label"})
	for _, typ := range []Type{Invocation, Oneway, Reply, Notification} {
		for _, m := range []Message{
			{Version: Version, Type: typ, Func: 0, Client: 0, Seq: 0},
			{Version: Version, Type: typ, Func: 0xffff, Client: 1<<64 - 1, Seq: 1<<32 - 1, Body: body},
			{Version: Version, Type: typ, Func: 42, Client: 0x1234567890, Seq: 300, Body: body},
		} {
			t.Run(typ.String(), func(t *testing.T) {
				enc := m.Append(nil)
				var got Message
				if err := got.Decode(enc); err != nil {
					t.Fatalf("Decode(Append(%+v)) error: %v", m, err)
				}
				want := m
				if len(want.Body) == 0 {
					want.Body = nilBody
				}
				if got.Version != want.Version || got.Type != want.Type || got.Func != want.Func ||
					got.Client != want.Client || got.Seq != want.Seq || !bytes.Equal(got.Body, want.Body) {
					t.Errorf("Decode(Append(m)) = %+v, want %+v", got, want)
				}
				if again := got.Append(nil); !bytes.Equal(again, enc) {
					t.Errorf("Append(Decode(b)) = % x, want % x", again, enc)
				}
			})
		}
	}
}

func TestMessageDecodeRejects(t *testing.T) {
	good := (&Message{Version: Version, Type: Reply, Func: 1, Client: 2, Seq: 3}).Append(nil)
	deep := bytes.Repeat([]byte{0x91}, MaxDepth+1) // arrays nested past the bound
	deep = append(deep, 0xc0)
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"not an array", []byte{0xc0}, ErrMalformed},
		{"short array", []byte{0x95, 1, 2, 3, 4, 5}, ErrMalformed},
		{"unknown type", []byte{0x96, 1, 9, 1, 2, 3, 0xc0}, ErrMalformed},
		{"func too large", []byte{0x96, 1, 0, 0xce, 0, 1, 0, 0, 2, 3, 0xc0}, ErrMalformed},
		{"missing body", good[:len(good)-1], ErrMalformed},
		{"trailing bytes", append(bytes.Clone(good), 0xc0), ErrMalformed},
		{"body cut short", []byte{0x96, 1, 0, 1, 2, 3, 0xc4, 10, 1}, ErrMalformed},
		{"nesting too deep", append([]byte{0x96, 1, 0, 1, 2, 3}, deep...), ErrMalformed},
		{"huge array count", []byte{0x96, 1, 0, 1, 2, 3, 0xdd, 0xff, 0xff, 0xff, 0xff}, ErrMalformed},
		{"long form integer", []byte{0x96, 1, 0, 0xcc, 1, 2, 3, 0xc0}, ErrNonCanonical},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Message
			if err := m.Decode(tt.in); !errors.Is(err, tt.want) {
				t.Errorf("Decode(% x) error = %v, want %v", tt.in, err, tt.want)
			}
		})
	}
}

// goldenMessages are the examples of docs/wire.md: a ping from client
// 0x1122334455667788, call 1, and its reply.
func goldenMessages(t testing.TB) map[string]Message {
	body := mustMarshal(t, []byte("ping"))
	return map[string]Message{
		"ping-request.frame": {Version: Version, Type: Invocation, Func: FuncPing, Client: 0x1122334455667788, Seq: 1, Body: body},
		"ping-reply.frame":   {Version: Version, Type: Reply, Func: FuncPing, Client: 0x1122334455667788, Seq: 1, Body: body},
	}
}

func TestGoldenFrames(t *testing.T) {
	for name, m := range goldenMessages(t) {
		got := AppendFrames(nil, m.Append(nil))
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: encoding changed:\n got % x\nwant % x", name, got, want)
		}
	}
}

func BenchmarkMessage64K(b *testing.B) {
	payload := make([]byte, 64<<10)
	body := mustMarshal(b, payload)
	m := Message{Version: Version, Type: Invocation, Func: 9, Client: 1 << 40, Seq: 77, Body: body}
	buf := make([]byte, 0, len(body)+64)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		enc := m.Append(buf[:0])
		var got Message
		if err := got.Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCodec64K measures what one 64 KiB message costs in this package
// end to end: message encoding, framing, scanning and reassembly, decoding.
func BenchmarkCodec64K(b *testing.B) {
	payload := make([]byte, 64<<10)
	m := Message{Version: Version, Type: Invocation, Func: 9, Client: 1 << 40, Seq: 77, Body: mustMarshal(b, payload)}
	var s Scanner
	var a Assembler
	msgBuf := make([]byte, 0, 70<<10)
	frameBuf := make([]byte, 0, 80<<10)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		msg := m.Append(msgBuf[:0])
		frames := AppendFrames(frameBuf[:0], msg)
		s.Feed(frames)
		for {
			h, body, ok := s.Next()
			if !ok {
				break
			}
			out, err := a.Add(h, body)
			if err != nil {
				b.Fatal(err)
			}
			if out != nil {
				var got Message
				if err := got.Decode(out); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
}
