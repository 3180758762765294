package simdevice

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// Files that CA.Write makes and LoadCA reads.
const (
	CACertFile = "ek-ca.pem"
	CAKeyFile  = "ek-ca-key.pem"
)

// caValidity is how long the CA and its EK certificates are valid: EK
// certificates are made for a TPM's life.
const caValidity = 20 * 365 * 24 * time.Hour

// Object identifiers of the TCG EK Credential Profile 2.0 (3.2).
var (
	oidSAN              = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidSubjectDirAttrs  = asn1.ObjectIdentifier{2, 5, 29, 9}
	oidTPMManufacturer  = asn1.ObjectIdentifier{2, 23, 133, 2, 1}
	oidTPMModel         = asn1.ObjectIdentifier{2, 23, 133, 2, 2}
	oidTPMVersion       = asn1.ObjectIdentifier{2, 23, 133, 2, 3}
	oidTPMSpecification = asn1.ObjectIdentifier{2, 23, 133, 2, 16}
	oidEKCertificate    = asn1.ObjectIdentifier{2, 23, 133, 8, 1}
)

// CA is a software EK CA, standing for a TPM vendor's: the verifier
// trusts the devices' EKs by having its certificate in its CA bundle.
type CA struct {
	Cert *x509.Certificate
	key  crypto.Signer
}

// NewCA makes a self-signed ECDSA P-256 EK CA (P-256 rather than a
// vendor's usual P-384 or RSA: thousands of EK certificates are signed at
// a load generator's start) with randomness from r
// (crypto/rand when nil).
func NewCA(r io.Reader) (*CA, error) {
	if r == nil {
		r = rand.Reader
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), r)
	if err != nil {
		return nil, fmt.Errorf("making EK CA key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{Organization: []string{"TEP"}, CommonName: "TEP simulated EK CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(r, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("making EK CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, key: key}, nil
}

// Write writes the CA's certificate (CACertFile, for the verifier's
// bundle) and key (CAKeyFile, mode 0600, for a later LoadCA) into dir.
func (ca *CA) Write(dir string) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(ca.key)
	if err != nil {
		return fmt.Errorf("writing EK CA: %w", err)
	}
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
	if err := os.WriteFile(filepath.Join(dir, CACertFile), cert, 0o644); err != nil {
		return fmt.Errorf("writing EK CA: %w", err)
	}
	key := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := os.WriteFile(filepath.Join(dir, CAKeyFile), key, 0o600); err != nil {
		return fmt.Errorf("writing EK CA: %w", err)
	}
	return nil
}

// LoadCA reads a CA that Write wrote into dir.
func LoadCA(dir string) (*CA, error) {
	certDER, err := readPEM(filepath.Join(dir, CACertFile), "CERTIFICATE")
	if err != nil {
		return nil, fmt.Errorf("loading EK CA: %w", err)
	}
	keyDER, err := readPEM(filepath.Join(dir, CAKeyFile), "PRIVATE KEY")
	if err != nil {
		return nil, fmt.Errorf("loading EK CA: %w", err)
	}
	cert, err := x509.ParseCertificate(certDER)
	if err != nil {
		return nil, fmt.Errorf("loading EK CA: %w", err)
	}
	key, err := x509.ParsePKCS8PrivateKey(keyDER)
	if err != nil {
		return nil, fmt.Errorf("loading EK CA: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok || !cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(signer.Public()) {
		return nil, errors.New("loading EK CA: the key is not the certificate's")
	}
	return &CA{Cert: cert, key: signer}, nil
}

func readPEM(path, typ string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != typ {
		return nil, fmt.Errorf("%s: no PEM %s", path, typ)
	}
	return blk.Bytes, nil
}

// tpmInfo is what an EK certificate says of its TPM, in the profile's
// form: Manufacturer and Version as "id:" and eight hex digits.
type tpmInfo struct {
	Manufacturer, Model, Version string
}

// issueEK makes the EK certificate of pub as TCG EK Credential Profile
// 2.0 (3.2) shapes it: an empty subject, so the subject alternative name
// is critical and holds the TPM's manufacturer, model and version as a
// directoryName; tcg-kp-EKCertificate as the only extended key usage;
// the TPM specification as a subject directory attribute.
func (ca *CA) issueEK(r io.Reader, pub crypto.PublicKey, tpm tpmInfo) ([]byte, error) {
	san, err := sanExtension(tpm)
	if err != nil {
		return nil, err
	}
	spec, err := specExtension()
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(r, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	usage := x509.KeyUsageKeyEncipherment
	if _, ok := pub.(*rsa.PublicKey); !ok {
		usage = x509.KeyUsageKeyAgreement
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial.Add(serial, big.NewInt(1)),
		NotBefore:             ca.Cert.NotBefore,
		NotAfter:              ca.Cert.NotAfter,
		BasicConstraintsValid: true,
		KeyUsage:              usage,
		UnknownExtKeyUsage:    []asn1.ObjectIdentifier{oidEKCertificate},
		ExtraExtensions:       []pkix.Extension{san, spec},
	}
	der, err := x509.CreateCertificate(r, tmpl, ca.Cert, pub, ca.key)
	if err != nil {
		return nil, fmt.Errorf("issuing EK certificate: %w", err)
	}
	return der, nil
}

// sanExtension is the critical SAN: GeneralNames holding one
// directoryName ([4] EXPLICIT Name) of three single-attribute RDNs,
// each value a UTF8String.
func sanExtension(tpm tpmInfo) (pkix.Extension, error) {
	var rdns pkix.RDNSequence
	for _, a := range []struct {
		oid asn1.ObjectIdentifier
		v   string
	}{{oidTPMManufacturer, tpm.Manufacturer}, {oidTPMModel, tpm.Model}, {oidTPMVersion, tpm.Version}} {
		rdns = append(rdns, pkix.RelativeDistinguishedNameSET{{
			Type: a.oid, Value: asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte(a.v)},
		}})
	}
	name, err := asn1.Marshal(rdns)
	if err != nil {
		return pkix.Extension{}, err
	}
	v, err := asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: name}})
	if err != nil {
		return pkix.Extension{}, err
	}
	return pkix.Extension{Id: oidSAN, Critical: true, Value: v}, nil
}

// tpmSpecification is the profile's TPMSpecification: family "2.0",
// level 0, revision 164 (TPM 2.0 Library 1.64).
type tpmSpecification struct {
	Family   string `asn1:"utf8"`
	Level    int
	Revision int
}

// specExtension is subjectDirectoryAttributes with tcg-at-tpmSpecification.
func specExtension() (pkix.Extension, error) {
	type attribute struct {
		Type   asn1.ObjectIdentifier
		Values []tpmSpecification `asn1:"set"`
	}
	v, err := asn1.Marshal([]attribute{{Type: oidTPMSpecification, Values: []tpmSpecification{{"2.0", 0, 164}}}})
	if err != nil {
		return pkix.Extension{}, err
	}
	return pkix.Extension{Id: oidSubjectDirAttrs, Value: v}, nil
}
