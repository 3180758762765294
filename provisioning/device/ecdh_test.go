package device

import (
	"bytes"
	"crypto/ecdh"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
)

func TestZGen(t *testing.T) {
	f := newFixture(t)
	if _, err := DeviceKey(f.t); !errors.Is(err, ErrNotProvisioned) || !strings.Contains(err.Error(), "tep-provision device-key") {
		t.Fatalf("DeviceKey with none = %v, want ErrNotProvisioned naming tep-provision device-key", err)
	}
	peer384, _ := ecdh.P384().GenerateKey(rand.Reader)
	if _, err := ZGen(f.t, peer384.PublicKey()); !errors.Is(err, ErrNotProvisioned) {
		t.Fatalf("ZGen with no device key = %v, want ErrNotProvisioned", err)
	}
	for _, c := range []struct {
		curve elliptic.Curve
		ecdh  ecdh.Curve
		other ecdh.Curve
	}{
		{elliptic.P384(), ecdh.P384(), ecdh.P256()},
		{elliptic.P256(), ecdh.P256(), ecdh.P384()},
	} {
		t.Run(c.curve.Params().Name, func(t *testing.T) {
			pub, changed, err := CreateDeviceKey(f.t, c.curve, true)
			if err != nil || !changed || pub.Curve != c.curve {
				t.Fatalf("CreateDeviceKey = %v, %v, %v", pub, changed, err)
			}
			if again, changed, err := CreateDeviceKey(f.t, c.curve, false); err != nil || changed || !again.Equal(pub) {
				t.Fatalf("CreateDeviceKey again = %v, %v, want the same key unchanged", changed, err)
			}
			got, err := DeviceKey(f.t)
			if err != nil || !got.Equal(pub) {
				t.Fatalf("DeviceKey = %v, %v", got, err)
			}
			peer, _ := c.ecdh.GenerateKey(rand.Reader)
			z, err := ZGen(f.t, peer.PublicKey())
			if err != nil {
				t.Fatal(err)
			}
			devPub, _ := pub.ECDH()
			want, _ := peer.ECDH(devPub)
			if !bytes.Equal(z, want) {
				t.Fatalf("ZGen = %x, crypto/ecdh = %x", z, want)
			}
			wrong, _ := c.other.GenerateKey(rand.Reader)
			if _, err := ZGen(f.t, wrong.PublicKey()); err == nil {
				t.Fatal("ZGen with a peer on another curve succeeded")
			}
		})
	}
	// Another curve over a device key is a conflict without --replace.
	if _, _, err := CreateDeviceKey(f.t, elliptic.P384(), false); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "0x8100a002") {
		t.Fatalf("CreateDeviceKey(P-384) over a P-256 key = %v, want ErrConflict naming the handle", err)
	}
}
