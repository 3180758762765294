package device

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"tep.dev/tep/tpm"
)

// eccArea is the public area of k as a TPM would give it.
func eccArea(id tpm2.TPMECCCurve, k *ecdsa.PublicKey) *tpm2.TPMTPublic {
	raw, _ := k.Bytes()
	size := (len(raw) - 1) / 2
	return &tpm2.TPMTPublic{
		Type:       tpm2.TPMAlgECC,
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{CurveID: id}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
			X: tpm2.TPM2BECCParameter{Buffer: raw[1 : 1+size]},
			Y: tpm2.TPM2BECCParameter{Buffer: raw[1+size:]},
		}),
	}
}

// TestECCPublic: the device key's curves convert; P-521, which the TPM
// package knows, and an RSA area are refused.
func TestECCPublic(t *testing.T) {
	for _, c := range []struct {
		id    tpm2.TPMECCCurve
		curve elliptic.Curve
		ok    bool
	}{
		{tpm2.TPMECCNistP256, elliptic.P256(), true},
		{tpm2.TPMECCNistP384, elliptic.P384(), true},
		{tpm2.TPMECCNistP521, elliptic.P521(), false},
	} {
		k, err := ecdsa.GenerateKey(c.curve, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		got, err := eccPublic(eccArea(c.id, &k.PublicKey))
		switch {
		case c.ok && (err != nil || !got.Equal(&k.PublicKey)):
			t.Errorf("eccPublic(%s) = %v, %v; want the key", c.curve.Params().Name, got, err)
		case !c.ok && !errors.Is(err, tpm.ErrUnsupported):
			t.Errorf("eccPublic(%s) = %v, %v; want ErrUnsupported", c.curve.Params().Name, got, err)
		}
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaArea := &tpm2.TPMTPublic{
		Type:       tpm2.TPMAlgRSA,
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{KeyBits: 2048}),
		Unique:     tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: rk.N.Bytes()}),
	}
	if got, err := eccPublic(rsaArea); err == nil || !strings.Contains(err.Error(), "not an ECC key") {
		t.Errorf("eccPublic(RSA area) = %v, %v; want not an ECC key", got, err)
	}
}
