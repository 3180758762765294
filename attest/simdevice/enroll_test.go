package simdevice

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

// newFleet makes a fleet for a test.
func newFleet(t testing.TB, cfg Config) *Fleet {
	t.Helper()
	f, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestEnroll checks every key type's enrolment: the public areas parse
// with go-tpm, the EK is shaped as TCG's template, the AK is a
// restricted signing key named as go-tpm names it, and the EK
// certificate holds the EK.
func TestEnroll(t *testing.T) {
	if got := policySecretEndorsement(crypto.SHA256); !bytes.Equal(got, tpm2.RSAEKTemplate.AuthPolicy.Buffer) {
		t.Errorf("PolicySecret(endorsement) digest = %x, want TCG's %x", got, tpm2.RSAEKTemplate.AuthPolicy.Buffer)
	}
	for _, c := range []struct{ ek, ak string }{
		{KeyP256, KeyP256}, {KeyP384, KeyP256}, {KeyRSA2048, KeyRSA2048},
	} {
		t.Run(c.ek+"-"+c.ak, func(t *testing.T) {
			f := newFleet(t, Config{Devices: 1, EK: c.ek, AK: c.ak})
			d := f.Devices[0]
			req := d.Enroll("tok")
			if req.HostID != "sim-00000" || req.Token != "tok" || req.Facts.Hostname != req.HostID || req.Facts.TPMFirmware != "2.0.1.0" {
				t.Errorf("Enroll = host %q token %q facts %+v", req.HostID, req.Token, req.Facts)
			}
			ek, err := tpm2.Unmarshal[tpm2.TPMTPublic](req.EKPublic)
			if err != nil {
				t.Fatalf("EK public area: %v", err)
			}
			a := ek.ObjectAttributes
			if !a.FixedTPM || !a.FixedParent || !a.SensitiveDataOrigin || !a.AdminWithPolicy || !a.Restricted || !a.Decrypt || a.SignEncrypt || a.UserWithAuth {
				t.Errorf("EK attributes %+v, want TCG's EK template's", a)
			}
			ak, err := tpm2.Unmarshal[tpm2.TPMTPublic](req.AKPublic)
			if err != nil {
				t.Fatalf("AK public area: %v", err)
			}
			if ak.ObjectAttributes != akAttributes {
				t.Errorf("AK attributes %+v, want %+v", ak.ObjectAttributes, akAttributes)
			}
			name, err := tpm2.ObjectName(ak)
			if err != nil || !bytes.Equal(name.Buffer, d.AKName()) {
				t.Errorf("AK name %x, %v; want %x", name.Buffer, err, d.AKName())
			}
			cert, err := x509.ParseCertificate(req.EKCert)
			if err != nil {
				t.Fatal(err)
			}
			ekKey, err := tpm2.Pub(*ek)
			if err != nil {
				t.Fatal(err)
			}
			if !ekKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(cert.PublicKey) {
				t.Error("the EK certificate's key is not the EK")
			}
			if _, err := tpm2.Pub(*ak); err != nil {
				t.Errorf("AK public key: %v", err)
			}
		})
	}
}

// TestEKCertificate shows what Go's x509 does with the TCG profile's
// critical SAN: it leaves it unhandled, so Verify refuses the chain,
// until the verifier reads the SAN itself and marks it handled.
func TestEKCertificate(t *testing.T) {
	f := newFleet(t, Config{Devices: 1})
	cert, err := x509.ParseCertificate(f.Devices[0].Enroll("").EKCert)
	if err != nil {
		t.Fatal(err)
	}
	if len(cert.RawSubject) != 2 || cert.Subject.String() != "" {
		t.Errorf("subject %q, want empty", cert.Subject)
	}
	if !slices.ContainsFunc(cert.UnhandledCriticalExtensions, oidSAN.Equal) {
		t.Fatalf("unhandled critical extensions %v, want the SAN among them", cert.UnhandledCriticalExtensions)
	}
	if len(cert.UnknownExtKeyUsage) != 1 || !cert.UnknownExtKeyUsage[0].Equal(oidEKCertificate) || cert.IsCA {
		t.Errorf("EKU %v, CA %v; want tcg-kp-EKCertificate only, no CA", cert.UnknownExtKeyUsage, cert.IsCA)
	}
	roots := x509.NewCertPool()
	roots.AddCert(f.CA.Cert)
	opts := x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	_, err = cert.Verify(opts)
	if !errors.As(err, new(x509.UnhandledCriticalExtension)) {
		t.Fatalf("Verify with the SAN unhandled = %v, want x509.UnhandledCriticalExtension", err)
	}
	if got := readSAN(t, cert); got != (tpmInfo{tpmManufacturer, tpmModel, "id:00020000"}) {
		t.Errorf("SAN = %+v", got)
	}
	cert.UnhandledCriticalExtensions = slices.DeleteFunc(cert.UnhandledCriticalExtensions, oidSAN.Equal)
	if _, err := cert.Verify(opts); err != nil {
		t.Errorf("Verify with the SAN handled = %v, want a chain", err)
	}
	_, err = cert.Verify(x509.VerifyOptions{Roots: roots})
	if !errors.As(err, new(x509.CertificateInvalidError)) {
		t.Errorf("Verify for server auth = %v, want an invalid usage", err)
	}
	other, err := NewCA(nil)
	if err != nil {
		t.Fatal(err)
	}
	strangers := x509.NewCertPool()
	strangers.AddCert(other.Cert)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: strangers, KeyUsages: opts.KeyUsages}); err == nil {
		t.Error("the EK certificate chains to another CA")
	}
}

// readSAN decodes the directoryName of the SAN as a verifier must.
func readSAN(t *testing.T, cert *x509.Certificate) tpmInfo {
	t.Helper()
	var info tpmInfo
	for _, e := range cert.Extensions {
		if !e.Id.Equal(oidSAN) {
			continue
		}
		if !e.Critical {
			t.Error("SAN not critical")
		}
		var names []asn1.RawValue
		if _, err := asn1.Unmarshal(e.Value, &names); err != nil || len(names) != 1 || names[0].Tag != 4 {
			t.Fatalf("SAN %x: %v", e.Value, err)
		}
		var rdns pkix.RDNSequence
		if _, err := asn1.Unmarshal(names[0].Bytes, &rdns); err != nil {
			t.Fatal(err)
		}
		for _, set := range rdns {
			for _, atv := range set {
				v, _ := atv.Value.(string)
				switch {
				case atv.Type.Equal(oidTPMManufacturer):
					info.Manufacturer = v
				case atv.Type.Equal(oidTPMModel):
					info.Model = v
				case atv.Type.Equal(oidTPMVersion):
					info.Version = v
				}
			}
		}
	}
	return info
}

// TestCAFiles writes a CA, loads it back, and refuses broken files.
func TestCAFiles(t *testing.T) {
	dir := t.TempDir()
	ca, err := NewCA(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Write(dir); err != nil {
		t.Fatal(err)
	}
	got, err := LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Cert.Equal(ca.Cert) {
		t.Error("LoadCA read another certificate")
	}
	// A fleet on the loaded CA chains to the written certificate.
	f := newFleet(t, Config{Devices: 1, CA: got})
	cert, _ := x509.ParseCertificate(f.Devices[0].Enroll("").EKCert)
	if err := cert.CheckSignatureFrom(ca.Cert); err != nil {
		t.Errorf("EK certificate from the loaded CA: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, CAKeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("CA key file: %v, %v; want mode 0600", fi, err)
	}

	other, _ := NewCA(nil)
	otherDir := t.TempDir()
	other.Write(otherDir)
	os.Rename(filepath.Join(otherDir, CAKeyFile), filepath.Join(dir, CAKeyFile))
	if _, err := LoadCA(dir); err == nil || !strings.Contains(err.Error(), "not the certificate's") {
		t.Errorf("LoadCA with another CA's key = %v, want a mismatch", err)
	}
	os.WriteFile(filepath.Join(dir, CACertFile), []byte("junk"), 0o644)
	if _, err := LoadCA(dir); err == nil {
		t.Error("LoadCA of junk succeeded")
	}
	if _, err := LoadCA(t.TempDir()); err == nil {
		t.Error("LoadCA of an empty folder succeeded")
	}
}

// TestConfigErrors checks that New refuses what it cannot make.
func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Devices: 1, EK: "rsa1024"},
		{Devices: 1, AK: KeyP384},
		{Devices: 1, Banks: []string{"md5"}},
		{Devices: 1, IMAEntries: -1},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded, want an error", cfg)
		}
	}
	f := newFleet(t, Config{Devices: 3, HostPrefix: "edge-"})
	if d := f.Lookup("edge-00002"); d == nil || d != f.Devices[2] {
		t.Errorf("Lookup(edge-00002) = %v", d)
	}
	if f.Lookup("sim-00000") != nil {
		t.Error("Lookup of a host not in the fleet found one")
	}
}
