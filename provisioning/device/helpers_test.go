package device

import (
	"crypto/elliptic"
	"crypto/x509"
	"testing"
)

func mustDER(t testing.TB, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func ellipticP256() elliptic.Curve { return elliptic.P256() }
