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
