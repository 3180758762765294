package server

import (
	"testing"

	"tep.dev/tep/p11"
)

// BenchmarkCalls measures PKCS#11 round trips through the Go client over
// a pty: a call that stays in the server, and one that asks the TPM.
func BenchmarkCalls(b *testing.B) {
	f := newFixture(b, "sim")
	c := f.dial(b)
	s, err := c.OpenSession(1, p11.CKF_SERIAL_SESSION)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("GetSessionInfo", func(b *testing.B) {
		for b.Loop() {
			if _, err := c.SessionInfo(s); err != nil {
				b.Fatal(err)
			}
		}
	})
	out := make([]byte, 32)
	b.Run("GenerateRandom32", func(b *testing.B) {
		for b.Loop() {
			if err := c.GenerateRandom(s, out); err != nil {
				b.Fatal(err)
			}
		}
	})
}
