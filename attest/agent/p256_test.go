package agent_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/agent"
	"tep.dev/tep/attest/credential"
	"tep.dev/tep/attest/ekcert"
	"tep.dev/tep/attest/quote"
)

// TestP256EK provisions a P-256 EK certificate (template L-2, NV
// 0x01C0000A), which swtpm_setup does not make, as a vendor would: the
// certificate, issued by a CA of the test's with the TCG profile's
// critical SAN, goes into a platform-created NV index. The agent then
// enrols, activates (ECDH seed, PolicySecret session) and quotes with it.
func TestP256EK(t *testing.T) {
	d := newDevice(t, t.TempDir(), agent.Config{EK: "p256"})
	caKey, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "P-256 EK CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	ca, _ := x509.ParseCertificate(caDER)

	err := d.tpm.Do(func(tr transport.TPM) error {
		rsp, err := tpm2.CreatePrimary{
			PrimaryHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHEndorsement, Auth: tpm2.PasswordAuth(nil)},
			InPublic:      tpm2.New2B(tpm2.ECCEKTemplate),
		}.Execute(tr)
		if err != nil {
			return err
		}
		tpm2.FlushContext{FlushHandle: rsp.ObjectHandle}.Execute(tr)
		area, _ := rsp.OutPublic.Contents()
		ekKey, err := tpm2.Pub(*area)
		if err != nil {
			return err
		}
		der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
			SerialNumber: big.NewInt(2), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage:           x509.KeyUsageKeyAgreement,
			UnknownExtKeyUsage: []asn1.ObjectIdentifier{{2, 23, 133, 8, 1}},
			ExtraExtensions:    []pkix.Extension{tcgSAN(t)},
		}, ca, ekKey, caKey)
		if err != nil {
			return err
		}
		return writeNV(tr, 0x01C0000A, der)
	})
	if err != nil {
		t.Fatal(err)
	}
	req, err := d.agent.Enroll("host-1", "")
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	info, err := ekcert.Verify(req.EKCert, req.EKPublic, ekcert.Options{Roots: roots})
	if err != nil || info.Model != "swtpm" {
		t.Fatalf("ekcert.Verify = %+v, %v", info, err)
	}
	ak, _ := quote.ParseAK(req.AKPublic)
	blob, digest, err := credential.NewChallenge(req.EKPublic, ak.Name)
	if err != nil {
		t.Fatal(err)
	}
	act, err := d.agent.Activate(attest.Challenge{Credential: blob})
	if err != nil || !credential.Matches(digest, act.Secret) {
		t.Fatalf("Activate with the P-256 EK = %x, %v", act.Secret, err)
	}
	n := nonce(t)
	ev, err := d.agent.Quote(attest.QuoteRequest{Nonce: n})
	if err != nil {
		t.Fatal(err)
	}
	r, err := quote.Verify(ev, quote.Input{AKPublic: req.AKPublic, ActivatedName: ak.Name, Nonce: n})
	if err != nil || !r.OK() {
		t.Fatalf("Verify = %+v, %v", r, err)
	}
}

// tcgSAN is the TCG EK profile's SAN: critical, one directoryName with
// the TPM's manufacturer, model and version.
func tcgSAN(t *testing.T) pkix.Extension {
	name, err := asn1.Marshal(pkix.RDNSequence{
		{{Type: asn1.ObjectIdentifier{2, 23, 133, 2, 1}, Value: "id:49424D00"}},
		{{Type: asn1.ObjectIdentifier{2, 23, 133, 2, 2}, Value: "swtpm"}},
		{{Type: asn1.ObjectIdentifier{2, 23, 133, 2, 3}, Value: "id:20191023"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	v, err := asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: name}})
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Critical: true, Value: v}
}

// writeNV defines a platform index as TPM vendors define EK certificate
// indices (platform-written, readable by the owner and with its empty
// authValue) and writes b into it.
func writeNV(tr transport.TPM, index tpm2.TPMHandle, b []byte) error {
	platform := tpm2.AuthHandle{Handle: tpm2.TPMRHPlatform, Auth: tpm2.PasswordAuth(nil)}
	pub := tpm2.TPMSNVPublic{NVIndex: index, NameAlg: tpm2.TPMAlgSHA256, DataSize: uint16(len(b)),
		Attributes: tpm2.TPMANV{PPWrite: true, WriteDefine: true, PPRead: true, OwnerRead: true, AuthRead: true,
			NoDA: true, PlatformCreate: true, NT: tpm2.TPMNTOrdinary}}
	if _, err := (tpm2.NVDefineSpace{AuthHandle: platform, PublicInfo: tpm2.New2B(pub)}).Execute(tr); err != nil {
		return err
	}
	name, err := tpm2.NVName(&pub)
	if err != nil {
		return err
	}
	for off := 0; off < len(b); off += 512 {
		_, err := tpm2.NVWrite{AuthHandle: platform, NVIndex: tpm2.NamedHandle{Handle: index, Name: *name},
			Data: tpm2.TPM2BMaxNVBuffer{Buffer: b[off:min(off+512, len(b))]}, Offset: uint16(off)}.Execute(tr)
		if err != nil {
			return err
		}
	}
	return nil
}
