package wire

import (
	"math/rand/v2"
	"testing"
)

// crcBitwise is the textbook bit-at-a-time CRC, the reference for the
// sliced tables.
func crcBitwise(init uint16, p []byte) uint16 {
	crc := init
	for _, b := range p {
		crc ^= uint16(b) << 8
		for i := 0; i < 8; i++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ crcPoly
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

func TestCRC16CheckValues(t *testing.T) {
	check := []byte("123456789")
	tests := []struct {
		name string
		init uint16
		want uint16
	}{
		// Published check values of the same polynomial anchor the
		// algorithm; the eRPC one follows from its initial value.
		{"CRC-16/XMODEM", 0x0000, 0x31C3},
		{"CRC-16/IBM-3740", 0xFFFF, 0x29B1},
		{"eRPC", crcInit, 0x89AC},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := crcUpdate(tt.init, check); got != tt.want {
				t.Errorf("crcUpdate(%#04x, %q) = %#04x, want %#04x", tt.init, check, got, tt.want)
			}
			if got := crcBitwise(tt.init, check); got != tt.want {
				t.Errorf("crcBitwise(%#04x, %q) = %#04x, want %#04x", tt.init, check, got, tt.want)
			}
		})
	}
}

func TestCRC16SlicedMatchesBitwise(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 300; n++ {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(r.Uint32())
		}
		if got, want := CRC16(p), crcBitwise(crcInit, p); got != want {
			t.Fatalf("CRC16(%d random bytes) = %#04x, want %#04x", n, got, want)
		}
	}
}

func BenchmarkCRC16(b *testing.B) {
	p := make([]byte, 64<<10)
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		CRC16(p)
	}
}

// TestCRC16FoldMatchesBitwise covers the carry-less folding path (where the
// CPU has it) and the table path on the same long inputs, at every
// alignment of the start.
func TestCRC16FoldMatchesBitwise(t *testing.T) {
	t.Logf("carry-less folding available: %v", haveFold)
	r := rand.New(rand.NewPCG(5, 6))
	p := make([]byte, 70016)
	for i := range p {
		p[i] = byte(r.Uint32())
	}
	for _, n := range []int{foldMin - 1, foldMin, foldMin + 1, 80, 95, 1024, 1025, 16384 + 7, 65535, 70000} {
		for off := 0; off < 16; off += 5 {
			q := p[off : off+n]
			for _, init := range []uint16{crcInit, 0, 0xFFFF} {
				want := crcBitwise(init, q)
				if got := crcUpdate(init, q); got != want {
					t.Errorf("crcUpdate(%#04x, %d bytes at +%d) = %#04x, want %#04x", init, n, off, got, want)
				}
				if got := crcSliced(init, q); got != want {
					t.Errorf("crcSliced(%#04x, %d bytes at +%d) = %#04x, want %#04x", init, n, off, got, want)
				}
			}
		}
	}
}
