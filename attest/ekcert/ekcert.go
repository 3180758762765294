package ekcert

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/go-tpm/tpm2"
)

// Object identifiers of the TCG EK Credential Profile and RFC 5280.
var (
	oidSAN              = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidEKCertificate    = asn1.ObjectIdentifier{2, 23, 133, 8, 1}
	oidTPMManufacturer  = asn1.ObjectIdentifier{2, 23, 133, 2, 1}
	oidTPMModel         = asn1.ObjectIdentifier{2, 23, 133, 2, 2}
	oidTPMVersion       = asn1.ObjectIdentifier{2, 23, 133, 2, 3}
	oidExtKeyUsageField = asn1.ObjectIdentifier{2, 5, 29, 37}
)

// Errors that callers branch on: an untrusted chain, and a certificate
// that is not for the EK the agent sent.
var (
	ErrUntrusted   = errors.New("EK certificate is not trusted")
	ErrKeyMismatch = errors.New("EK certificate is for another key")
)

// Options are the trust anchors and the time of the check.
type Options struct {
	// Roots are the TPM vendors' root CAs; Intermediates, CAs that may
	// complete the chain (vendors publish them beside the roots).
	Roots, Intermediates *x509.CertPool
	// Now is the time to check validity at; zero means time.Now. (EK
	// certificates often outlive their CAs' own dates, but a verifier
	// must not pretend otherwise.)
	Now time.Time
}

// TPM is what an EK certificate says of its TPM.
type TPM struct {
	// Manufacturer is the vendor id ("id:" and eight hex digits, as the
	// profile writes it), Model and Version its model and firmware as the
	// vendor names them.
	Manufacturer, Model, Version string
	Cert                         *x509.Certificate
}

// Verify parses an EK certificate (DER; NV indices may pad it, so
// trailing bytes after the certificate are ignored), checks its chain
// against opts, its TCG extensions, and that its public key is the one
// in ekPublic (a TPMT_PUBLIC). Errors wrap ErrUntrusted for the chain
// and extensions, ErrKeyMismatch for another key.
func Verify(der, ekPublic []byte, opts Options) (*TPM, error) {
	cert, err := parse(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUntrusted, err)
	}
	tpm := &TPM{Cert: cert}
	if err := tpm.handleCritical(cert); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUntrusted, err)
	}
	if tpm.Manufacturer == "" {
		// A SAN that is not critical is read where it is well formed, but
		// not required.
		tpm.readSAN(cert)
	}
	if err := checkUsage(cert); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUntrusted, err)
	}
	if opts.Roots == nil {
		return nil, fmt.Errorf("%w: no root CAs configured", ErrUntrusted)
	}
	_, err = cert.Verify(x509.VerifyOptions{
		Roots:         opts.Roots,
		Intermediates: opts.Intermediates,
		CurrentTime:   opts.Now,
		// EKU is checked by checkUsage: x509 knows no TPM usages.
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUntrusted, err)
	}
	if err := matchKey(cert, ekPublic); err != nil {
		return nil, err
	}
	return tpm, nil
}

// parse reads the DER certificate at the start of der.
func parse(der []byte) (*x509.Certificate, error) {
	var raw asn1.RawValue
	rest, err := asn1.Unmarshal(der, &raw)
	if err != nil {
		return nil, fmt.Errorf("reading certificate: %v", err)
	}
	return x509.ParseCertificate(der[:len(der)-len(rest)])
}

// handleCritical reads the critical extensions x509 left unhandled that
// the TCG profile defines, and removes them from the list only when read.
func (t *TPM) handleCritical(cert *x509.Certificate) error {
	left := cert.UnhandledCriticalExtensions[:0:0]
	for _, oid := range cert.UnhandledCriticalExtensions {
		if oid.Equal(oidSAN) {
			if err := t.readSAN(cert); err != nil {
				return err
			}
			continue
		}
		left = append(left, oid)
	}
	cert.UnhandledCriticalExtensions = left
	return nil
}

// readSAN reads the TPM's manufacturer, model and version from the
// directoryName of the SAN extension; all three must be there.
func (t *TPM) readSAN(cert *x509.Certificate) error {
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(oidSAN) {
			continue
		}
		var names []asn1.RawValue
		if rest, err := asn1.Unmarshal(ext.Value, &names); err != nil || len(rest) != 0 {
			return fmt.Errorf("reading subject alternative name: %v", err)
		}
		for _, n := range names {
			// directoryName [4] EXPLICIT Name (RFC 5280, 4.2.1.6).
			if n.Class != asn1.ClassContextSpecific || n.Tag != 4 {
				continue
			}
			var rdn pkix.RDNSequence
			if rest, err := asn1.Unmarshal(n.Bytes, &rdn); err != nil || len(rest) != 0 {
				return fmt.Errorf("reading subject alternative name's directoryName: %v", err)
			}
			t.readAttrs(rdn)
		}
	}
	if t.Manufacturer == "" || t.Model == "" || t.Version == "" {
		return errors.New("critical subject alternative name without the TPM's manufacturer, model and version")
	}
	return nil
}

func (t *TPM) readAttrs(rdn pkix.RDNSequence) {
	for _, set := range rdn {
		for _, atv := range set {
			v, ok := atv.Value.(string)
			if !ok {
				continue
			}
			switch {
			case atv.Type.Equal(oidTPMManufacturer):
				t.Manufacturer = v
			case atv.Type.Equal(oidTPMModel):
				t.Model = v
			case atv.Type.Equal(oidTPMVersion):
				t.Version = v
			}
		}
	}
}

// checkUsage requires tcg-kp-EKCertificate where the certificate has an
// extended key usage at all (the profile makes it optional), and no other.
func checkUsage(cert *x509.Certificate) error {
	has := slices.ContainsFunc(cert.Extensions, func(e pkix.Extension) bool { return e.Id.Equal(oidExtKeyUsageField) })
	if !has {
		return nil
	}
	if len(cert.ExtKeyUsage) != 0 || len(cert.UnknownExtKeyUsage) != 1 || !cert.UnknownExtKeyUsage[0].Equal(oidEKCertificate) {
		return fmt.Errorf("extended key usage is not tcg-kp-EKCertificate (%v %v)", cert.ExtKeyUsage, cert.UnknownExtKeyUsage)
	}
	return nil
}

// matchKey checks that ekPublic, a TPMT_PUBLIC, holds the certificate's key.
func matchKey(cert *x509.Certificate, ekPublic []byte) error {
	pub, err := tpm2.Unmarshal[tpm2.TPMTPublic](ekPublic)
	if err != nil {
		return fmt.Errorf("%w: reading EK public area: %v", ErrKeyMismatch, err)
	}
	key, err := tpm2.Pub(*pub)
	if err != nil {
		return fmt.Errorf("%w: EK public area: %v", ErrKeyMismatch, err)
	}
	eq, ok := key.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !eq.Equal(cert.PublicKey) {
		return ErrKeyMismatch
	}
	if a := pub.ObjectAttributes; !a.Restricted || !a.Decrypt || a.SignEncrypt || !a.FixedTPM || !a.FixedParent {
		return fmt.Errorf("%w: the EK public area is not a fixed restricted decryption key", ErrKeyMismatch)
	}
	return nil
}
