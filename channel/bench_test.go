package channel

import (
	"flag"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the files in testdata/")

// BenchmarkSealOpen measures what the channel adds to one call: sealing a
// body and opening it on the other side.
func BenchmarkSealOpen(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"32B", 32}, {"1MiB", 1 << 20}} {
		b.Run(size.name, func(b *testing.B) {
			client, server, _ := pair(b)
			body := make([]byte, size.n)
			hdr := make([]byte, 16)
			buf := make([]byte, 0, size.n+Overhead)
			b.SetBytes(int64(size.n))
			b.ReportAllocs()
			n := uint64(0)
			for b.Loop() {
				n++
				sealed := client.Seal(buf[:0], hdr, n, 1, body)
				if _, _, _, err := server.OpenNext(hdr, uint32(n), sealed); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHandshake measures both sides of a handshake: what C_Initialize
// adds, less the round trip on the line.
func BenchmarkHandshake(b *testing.B) {
	key, _ := GenerateKey(nil)
	b.ReportAllocs()
	for b.Loop() {
		h, msg1, err := StartClient(testID, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		msg2, _, err := Accept(key, testID, msg1, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, _, err := h.Finish(msg2); err != nil {
			b.Fatal(err)
		}
	}
}
