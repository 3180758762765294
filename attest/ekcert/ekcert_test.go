package ekcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
)

// ca is a software CA that issues EK certificates as TPM vendors do.
type ca struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
}

func newCA(t *testing.T) *ca {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test TPM vendor CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &ca{key, c}
}

func (c *ca) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.cert)
	return p
}

// sanExt is the TCG profile's SAN: critical, a directoryName only.
func sanExt(t *testing.T, attrs map[string]string) pkix.Extension {
	t.Helper()
	var rdn pkix.RDNSequence
	for _, a := range []struct {
		oid  asn1.ObjectIdentifier
		name string
	}{{oidTPMManufacturer, "manufacturer"}, {oidTPMModel, "model"}, {oidTPMVersion, "version"}} {
		if v, ok := attrs[a.name]; ok {
			rdn = append(rdn, pkix.RelativeDistinguishedNameSET{{Type: a.oid, Value: v}})
		}
	}
	name, err := asn1.Marshal(rdn)
	if err != nil {
		t.Fatal(err)
	}
	v, err := asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: name}})
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: oidSAN, Critical: true, Value: v}
}

var tpmAttrs = map[string]string{"manufacturer": "id:49424D00", "model": "swtpm", "version": "id:20191023"}

// ek is an EK: its public area around a software key.
func ek(t *testing.T) (*rsa.PrivateKey, []byte) {
	t.Helper()
	k, _ := rsa.GenerateKey(rand.Reader, 2048)
	pub := tpm2.RSAEKTemplate
	pub.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: k.N.Bytes()})
	return k, tpm2.Marshal(pub)
}

// issue makes an EK certificate for key; edit changes the template.
func (c *ca) issue(t *testing.T, key *rsa.PublicKey, edit func(*x509.Certificate)) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:           x509.KeyUsageKeyEncipherment,
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{oidEKCertificate},
		ExtraExtensions:    []pkix.Extension{sanExt(t, tpmAttrs)},
	}
	if edit != nil {
		edit(tmpl)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, key, c.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestVerify(t *testing.T) {
	vendor := newCA(t)
	key, pub := ek(t)
	der := vendor.issue(t, &key.PublicKey, nil)
	// What Verify handles: x509 alone refuses the TCG profile's SAN.
	c, _ := x509.ParseCertificate(der)
	if _, err := c.Verify(x509.VerifyOptions{Roots: vendor.pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err == nil {
		t.Fatal("x509 accepts the critical directoryName SAN by itself; the test proves nothing")
	}
	// NV indices hold certificates padded with zeros.
	info, err := Verify(append(der, 0, 0, 0), pub, Options{Roots: vendor.pool()})
	if err != nil {
		t.Fatal(err)
	}
	if info.Manufacturer != "id:49424D00" || info.Model != "swtpm" || info.Version != "id:20191023" {
		t.Errorf("Verify read %+v, want the SAN's manufacturer, model and version", info)
	}
}

func TestVerifyRejects(t *testing.T) {
	vendor, other := newCA(t), newCA(t)
	key, pub := ek(t)
	_, otherPub := ek(t)
	signing := tpm2.RSAEKTemplate
	signing.ObjectAttributes.Decrypt, signing.ObjectAttributes.SignEncrypt = false, true
	signing.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: key.N.Bytes()})
	partialSAN := map[string]string{"manufacturer": "id:49424D00", "version": "1"}
	for _, c := range []struct {
		name string
		der  []byte
		pub  []byte
		opts Options
		want error
	}{
		{"unknown CA", vendor.issue(t, &key.PublicKey, nil), pub, Options{Roots: other.pool()}, ErrUntrusted},
		{"no roots", vendor.issue(t, &key.PublicKey, nil), pub, Options{}, ErrUntrusted},
		{"expired", vendor.issue(t, &key.PublicKey, nil), pub, Options{Roots: vendor.pool(), Now: time.Now().Add(48 * time.Hour)}, ErrUntrusted},
		{"other critical extension", vendor.issue(t, &key.PublicKey, func(c *x509.Certificate) {
			c.ExtraExtensions = append(c.ExtraExtensions, pkix.Extension{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Critical: true, Value: []byte{5, 0}})
		}), pub, Options{Roots: vendor.pool()}, ErrUntrusted},
		{"SAN without model", vendor.issue(t, &key.PublicKey, func(c *x509.Certificate) {
			c.ExtraExtensions = []pkix.Extension{sanExt(t, partialSAN)}
		}), pub, Options{Roots: vendor.pool()}, ErrUntrusted},
		{"SAN directoryName not a Name", vendor.issue(t, &key.PublicKey, func(c *x509.Certificate) {
			c.ExtraExtensions = []pkix.Extension{{Id: oidSAN, Critical: true, Value: []byte{0x30, 0x04, 0xa4, 0x02, 0x05, 0x00}}}
		}), pub, Options{Roots: vendor.pool()}, ErrUntrusted},
		{"TLS usage", vendor.issue(t, &key.PublicKey, func(c *x509.Certificate) {
			c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		}), pub, Options{Roots: vendor.pool()}, ErrUntrusted},
		{"not DER", []byte{0x30, 0x03, 1}, pub, Options{Roots: vendor.pool()}, ErrUntrusted},
		{"another EK", vendor.issue(t, &key.PublicKey, nil), otherPub, Options{Roots: vendor.pool()}, ErrKeyMismatch},
		{"EK public area bytes", vendor.issue(t, &key.PublicKey, nil), []byte{0, 1}, Options{Roots: vendor.pool()}, ErrKeyMismatch},
		{"signing EK", vendor.issue(t, &key.PublicKey, nil), tpm2.Marshal(signing), Options{Roots: vendor.pool()}, ErrKeyMismatch},
	} {
		_, err := Verify(c.der, c.pub, c.opts)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: Verify = %v, want %v", c.name, err, c.want)
		}
	}
}

// TestVerifyNonCriticalSAN accepts a SAN that is not critical and an EK
// certificate without extended key usage (both optional in the
// profile), and still reads the TPM's attributes.
func TestVerifyNonCriticalSAN(t *testing.T) {
	vendor := newCA(t)
	key, pub := ek(t)
	der := vendor.issue(t, &key.PublicKey, func(c *x509.Certificate) {
		c.ExtraExtensions[0].Critical = false
		c.UnknownExtKeyUsage = nil
	})
	info, err := Verify(der, pub, Options{Roots: vendor.pool()})
	if err != nil {
		t.Fatal(err)
	}
	if info.Model != "swtpm" {
		t.Errorf("Verify read model %q, want swtpm", info.Model)
	}
}
