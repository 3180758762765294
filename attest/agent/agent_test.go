package agent_test

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/agent"
	"tep.dev/tep/attest/credential"
	"tep.dev/tep/attest/ekcert"
	"tep.dev/tep/attest/quote"
	"tep.dev/tep/internal/swtpm"
	"tep.dev/tep/tpm"
)

// device is one manufactured swtpm with an agent on it.
type device struct {
	proc  *swtpm.Process
	tpm   *tpm.TPM
	agent *agent.Agent
	ca    string
	dir   string
}

// newDevice manufactures an swtpm (sha256 and sha384 banks, EK
// certificates from a local CA in ca) and opens an agent on it.
func newDevice(t *testing.T, ca string, cfg agent.Config) *device {
	t.Helper()
	dir := t.TempDir()
	p, err := swtpm.Start(swtpm.Config{
		State: filepath.Join(dir, "state"), TCP: true,
		Manufacture: &swtpm.Manufacture{
			PCRBanks: []string{"sha256", "sha384"}, EKCert: true, PlatformCert: true,
			ECC: cfg.EK != "rsa", CADir: ca,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	tp, err := tpm.Open(p.Spec, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tp.Close() })
	cfg.StateDir = filepath.Join(dir, "agent")
	if cfg.IMALogPath == "" {
		cfg.IMALogPath = filepath.Join(dir, "no-ima")
	}
	if cfg.BootLogPath == "" {
		cfg.BootLogPath = filepath.Join(dir, "no-boot")
	}
	a, err := agent.New(tp, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &device{proc: p, tpm: tp, agent: a, ca: ca, dir: dir}
}

// pool reads PEM certificates into a pool.
func pool(t *testing.T, files ...string) *x509.CertPool {
	t.Helper()
	p := x509.NewCertPool()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		p.AddCert(c)
	}
	return p
}

func caOptions(t *testing.T, ca string) ekcert.Options {
	return ekcert.Options{Roots: pool(t, swtpm.RootCert(ca)), Intermediates: pool(t, swtpm.IssuerCert(ca))}
}

// enrolled is a device the verifier side has enrolled and activated.
type enrolled struct {
	*device
	req     attest.EnrollRequest
	ak      *quote.AK
	tpmInfo *ekcert.TPM
}

// enroll runs enrolment and activation, as a verifier would, and fails
// the test on any error.
func enroll(t *testing.T, d *device) *enrolled {
	t.Helper()
	req, err := d.agent.Enroll("host-1", "token")
	if err != nil {
		t.Fatal(err)
	}
	info, err := ekcert.Verify(req.EKCert, req.EKPublic, caOptions(t, d.ca))
	if err != nil {
		t.Fatalf("ekcert.Verify: %v", err)
	}
	ak, err := quote.ParseAK(req.AKPublic)
	if err != nil {
		t.Fatalf("ParseAK: %v", err)
	}
	blob, digest, err := credential.NewChallenge(req.EKPublic, ak.Name)
	if err != nil {
		t.Fatalf("credential.NewChallenge: %v", err)
	}
	act, err := d.agent.Activate(attest.Challenge{EnrollmentID: "e1", Credential: blob})
	if err != nil {
		t.Fatalf("Activate: %v", err)
	}
	if !credential.Matches(digest, act.Secret) || act.EnrollmentID != "e1" {
		t.Fatalf("Activate = %x (%s), not the secret of the challenge e1", act.Secret, act.EnrollmentID)
	}
	return &enrolled{device: d, req: req, ak: ak, tpmInfo: info}
}

// measure extends PCR pcr in every bank with data's digests, as a
// kernel measuring a file would (TPM2_PCR_Event).
func (d *device) measure(t *testing.T, pcr int, data string) {
	t.Helper()
	_, err := tpm2.PCREvent{
		PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(pcr), Auth: tpm2.PasswordAuth(nil)},
		EventData: tpm2.TPM2BEvent{Buffer: []byte(data)},
	}.Execute(d.tpm)
	if err != nil {
		t.Fatal(err)
	}
}

func nonce(t *testing.T) []byte {
	n := make([]byte, 32)
	rand.Read(n)
	return n
}

func TestEnrollActivateQuote(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca")
	for _, c := range []struct{ ek, ak string }{{"rsa", "rsa"}, {"p384", "ecc"}, {"rsa", "ecc"}} {
		t.Run(c.ek+"-"+c.ak, func(t *testing.T) {
			e := enroll(t, newDevice(t, ca, agent.Config{EK: c.ek, AK: c.ak}))
			if e.tpmInfo.Manufacturer == "" || e.req.Facts.TPMVendor != "IBM" || e.req.Facts.TPMFirmware == "" {
				t.Errorf("TPM info %+v, facts %+v", e.tpmInfo, e.req.Facts)
			}
			e.measure(t, 10, "/usr/bin/tepd")
			n := nonce(t)
			ev, err := e.agent.Quote(attest.QuoteRequest{Nonce: n})
			if err != nil {
				t.Fatal(err)
			}
			res, err := quote.Verify(ev, quote.Input{
				AKPublic: e.req.AKPublic, ActivatedName: e.ak.Name, Nonce: n,
				Policy: quote.Policy{Banks: []string{"sha256", "sha384"}},
			})
			if err != nil {
				t.Fatal(err)
			}
			if !res.OK() {
				t.Fatalf("Verify faults: %+v", res.Faults)
			}
			if res.Firmware != e.req.Facts.TPMFirmware || len(res.PCRs["sha384"]) != 11 {
				t.Errorf("firmware %q, want %q; sha384 PCRs %d", res.Firmware, e.req.Facts.TPMFirmware, len(res.PCRs["sha384"]))
			}
			if bytes.Equal(res.PCRs["sha256"][10], make([]byte, 32)) {
				t.Error("PCR 10 is zero after a measurement")
			}
		})
	}
}
