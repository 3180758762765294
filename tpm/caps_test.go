package tpm

import (
	"crypto"
	"crypto/elliptic"
	"slices"
	"testing"
)

func TestAlgorithms(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *TPM, _ target) {
		c, err := tp.Algorithms()
		if err != nil {
			t.Fatalf("Algorithms() = %v", err)
		}
		var curves []string
		for _, cv := range c.Curves {
			curves = append(curves, cv.Params().Name)
		}
		t.Logf("RSA %v, curves %v, hashes %v, RSASSA %v PSS %v ECDSA %v RSAES %v OAEP %v, AES %v %v, HMAC %v, max buffer %d, slots %d (cache %d)",
			c.RSABits, curves, c.Hashes, c.RSASSA, c.RSAPSS, c.ECDSA, c.RSAES, c.OAEP, c.AESBits, c.AESModes, c.HMAC, c.MaxBuffer, tp.TransientSlots(), tp.CacheSize())
		// What the package's tests rely on, on both TPMs here.
		switch {
		case !slices.Contains(c.RSABits, 2048):
			t.Error("RSA-2048 missing")
		case !slices.Contains(c.Curves, elliptic.P256()):
			t.Error("P-256 missing")
		case !slices.Contains(c.Hashes, crypto.SHA256):
			t.Error("SHA-256 missing")
		case !c.RSASSA || !c.ECDSA || !c.RSAES || !c.OAEP || !c.HMAC:
			t.Error("a scheme is missing")
		case !slices.Contains(c.AESBits, 128) || len(c.AESModes) == 0:
			t.Error("AES missing")
		case c.MaxBuffer < 1024:
			t.Errorf("MaxBuffer = %d, want at least 1024", c.MaxBuffer)
		}
		again, err := tp.Algorithms()
		if err != nil || len(again.RSABits) != len(c.RSABits) {
			t.Errorf("second Algorithms() = %v, %v, want the cached answer", again, err)
		}
	})
}
