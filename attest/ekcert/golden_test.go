package ekcert

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

// swtpmChain reads testdata's EK certificate (P-384, from swtpm_setup
// with swtpm_localca) and the local CA's issuer that signed it.
func swtpmChain(t testing.TB) ([]byte, *x509.CertPool) {
	t.Helper()
	der, err := os.ReadFile("testdata/swtpm-ek-p384.der")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("testdata/swtpm-issuer.pem")
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	ca, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	p := x509.NewCertPool()
	p.AddCert(ca)
	return der, p
}

// TestSwtpmCertificate verifies a certificate swtpm_setup wrote, with
// its critical SAN and tcg-kp-EKCertificate, against an EK public area
// around its key.
func TestSwtpmCertificate(t *testing.T) {
	der, roots := swtpmChain(t)
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	point, err := c.PublicKey.(*ecdsa.PublicKey).Bytes() // 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	pub := tpm2.TPMTPublic{Type: tpm2.TPMAlgECC, NameAlg: tpm2.TPMAlgSHA384,
		ObjectAttributes: tpm2.TPMAObject{FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true,
			UserWithAuth: true, AdminWithPolicy: true, Restricted: true, Decrypt: true},
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
			Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgAES,
				KeyBits: tpm2.NewTPMUSymKeyBits(tpm2.TPMAlgAES, tpm2.TPMKeyBits(256)),
				Mode:    tpm2.NewTPMUSymMode(tpm2.TPMAlgAES, tpm2.TPMAlgCFB)},
			CurveID: tpm2.TPMECCNistP384}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
			X: tpm2.TPM2BECCParameter{Buffer: point[1:49]},
			Y: tpm2.TPM2BECCParameter{Buffer: point[49:]}}),
	}
	info, err := Verify(der, tpm2.Marshal(pub), Options{Roots: roots})
	if err != nil {
		t.Fatal(err)
	}
	if info.Model != "swtpm" || info.Manufacturer == "" || info.Version == "" {
		t.Errorf("Verify read %+v", info)
	}
}

// FuzzVerify checks that no certificate bytes make Verify panic, and
// that none but the real one verify for its key.
func FuzzVerify(f *testing.F) {
	der, _ := swtpmChain(f)
	f.Add(der)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, roots := swtpmChain(t)
		if _, err := Verify(b, []byte{0, 0x23}, Options{Roots: roots}); err == nil {
			t.Errorf("Verify accepts %x for a malformed EK", b)
		}
	})
}
