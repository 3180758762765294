package appraise

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"tep.dev/tep/attest/quote"
)

// akPublic is the TPMT_PUBLIC of a new ECDSA P-256 attestation key.
func akPublic(t *testing.T) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	point, err := k.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	return tpm2.Marshal(tpm2.TPMTPublic{Type: tpm2.TPMAlgECC, NameAlg: tpm2.TPMAlgSHA256,
		ObjectAttributes: tpm2.TPMAObject{FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true,
			UserWithAuth: true, Restricted: true, SignEncrypt: true},
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
			Scheme: tpm2.TPMTECCScheme{Scheme: tpm2.TPMAlgECDSA,
				Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256})},
			CurveID: tpm2.TPMECCNistP256}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
			X: tpm2.TPM2BECCParameter{Buffer: point[1:33]},
			Y: tpm2.TPM2BECCParameter{Buffer: point[33:]}}),
	})
}

func TestAKCache(t *testing.T) {
	c := akCache{max: 2}
	a, b, d := akPublic(t), akPublic(t), akPublic(t)
	first, err := c.parse(a)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := c.parse(a); again != first {
		t.Error("the same AK parsed again")
	}
	other, err := c.parse(b)
	if err != nil || other == first || string(other.Name) == string(first.Name) {
		t.Errorf("another AK: %v, same as the first: %v", err, other == first)
	}
	if _, err := c.parse(d); err != nil {
		t.Fatal(err)
	}
	if len(c.aks) != 2 {
		t.Errorf("%d AKs kept, want the bound, 2", len(c.aks))
	}
	// Not an AK: an error, and nothing kept.
	bad := append([]byte(nil), a...)
	bad[7] ^= 0x20 // in objectAttributes
	if _, err := c.parse(bad); !errors.Is(err, quote.ErrAK) {
		t.Errorf("parse(changed attributes) = %v, want ErrAK", err)
	}
	if _, ok := c.aks[string(bad)]; ok {
		t.Error("a bad AK was kept")
	}
}
