package swtpm_test

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"tep.dev/tep/internal/swtpm"
	"tep.dev/tep/tpm"
)

// TestManufacture makes a TPM as a vendor would and reads back what
// swtpm_setup wrote: the P-384 EK certificate at its TCG index, issued by
// the local CA, and both PCR banks allocated.
func TestManufacture(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca")
	p, err := swtpm.Start(swtpm.Config{
		State: filepath.Join(dir, "state"),
		Manufacture: &swtpm.Manufacture{
			PCRBanks: []string{"sha256", "sha384"}, EKCert: true, ECC: true, CADir: ca,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	tp, err := tpm.Open(p.Spec, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()

	const ekCertP384 = tpm2.TPMHandle(0x01C00016)
	var der []byte
	err = tp.Do(func(tr transport.TPM) error {
		pub, err := tpm2.NVReadPublic{NVIndex: ekCertP384}.Execute(tr)
		if err != nil {
			return err
		}
		nv, err := pub.NVPublic.Contents()
		if err != nil {
			return err
		}
		for off := uint16(0); off < nv.DataSize; {
			n := min(nv.DataSize-off, 512)
			rsp, err := tpm2.NVRead{
				AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
				NVIndex:    tpm2.NamedHandle{Handle: ekCertP384, Name: pub.NVName},
				Size:       n, Offset: off,
			}.Execute(tr)
			if err != nil {
				return err
			}
			der = append(der, rsp.Data.Buffer...)
			off += n
		}
		pcrs, err := tpm2.GetCapability{Capability: tpm2.TPMCapPCRs, PropertyCount: 8}.Execute(tr)
		if err != nil {
			return err
		}
		sel, err := pcrs.CapabilityData.Data.AssignedPCR()
		if err != nil {
			return err
		}
		got := map[tpm2.TPMIAlgHash]bool{}
		for _, s := range sel.PCRSelections {
			got[s.Hash] = len(s.PCRSelect) > 0 && s.PCRSelect[0] != 0
		}
		if !got[tpm2.TPMAlgSHA256] || !got[tpm2.TPMAlgSHA384] {
			t.Errorf("allocated banks %v, want sha256 and sha384", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(trimDER(der))
	if err != nil {
		t.Fatalf("EK certificate: %v", err)
	}
	pemBytes, err := os.ReadFile(swtpm.IssuerCert(ca))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(pemBytes)
	issuer, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := cert.CheckSignatureFrom(issuer); err != nil {
		t.Errorf("EK certificate is not signed by the local CA: %v", err)
	}
}

// trimDER cuts an NV index's contents to the DER element at its start:
// an index may be larger than the certificate it holds.
func trimDER(b []byte) []byte {
	if len(b) < 4 || b[0] != 0x30 || b[1] != 0x82 {
		return b
	}
	n := int(b[2])<<8 | int(b[3]) + 4
	return b[:min(n, len(b))]
}
