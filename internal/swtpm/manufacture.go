package swtpm

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Manufacture says how swtpm_setup prepares a fresh state directory, as a
// TPM vendor does at the factory: which PCR banks are allocated, and
// whether an endorsement key is created with a certificate, issued by a
// local CA (swtpm_localca) and written to the TCG NV index for it.
type Manufacture struct {
	// PCRBanks are the banks to allocate, such as "sha256" and "sha384";
	// empty leaves swtpm_setup's default.
	PCRBanks []string
	// EKCert creates the EK and its certificate (RSA 2048 at NV
	// 0x01C00002, or with ECC a P-384 EK at 0x01C00016).
	EKCert bool
	// ECC makes the EK an ECC key instead of RSA.
	ECC bool
	// PlatformCert also writes a platform certificate (NV 0x01C08000).
	PlatformCert bool
	// CADir holds the local CA: its key, serial and certificates
	// (RootCert and IssuerCert name them). Required with EKCert; CAs in
	// one directory are reused, so several TPMs can share one.
	CADir string
}

// RootCert is the local CA's self-signed root certificate in dir.
func RootCert(dir string) string { return filepath.Join(dir, "swtpm-localca-rootca-cert.pem") }

// IssuerCert is the local CA's intermediate certificate in dir, which
// signs the EK certificates.
func IssuerCert(dir string) string { return filepath.Join(dir, "issuercert.pem") }

// run runs swtpm_setup on state with m's options, with configuration
// files of its own so that nothing under /etc or /var/lib is used.
func (m Manufacture) run(state string) error {
	args := []string{"--tpm2", "--tpmstate", state, "--overwrite"}
	conf := filepath.Join(state, "swtpm_setup.conf")
	setup := ""
	if len(m.PCRBanks) > 0 {
		args = append(args, "--pcr-banks", strings.Join(m.PCRBanks, ","))
	}
	if m.ECC {
		args = append(args, "--ecc")
	}
	if m.EKCert || m.PlatformCert {
		if m.CADir == "" {
			return errors.New("manufacturing swtpm: certificates need a CA directory")
		}
		if err := os.MkdirAll(m.CADir, 0o700); err != nil {
			return fmt.Errorf("manufacturing swtpm: %w", err)
		}
		ca := filepath.Join(m.CADir, "localca.conf")
		caConf := fmt.Sprintf("statedir = %s\nsigningkey = %s\nissuercert = %s\ncertserial = %s\n",
			m.CADir, filepath.Join(m.CADir, "signkey.pem"), IssuerCert(m.CADir), filepath.Join(m.CADir, "certserial"))
		if err := os.WriteFile(ca, []byte(caConf), 0o600); err != nil {
			return fmt.Errorf("manufacturing swtpm: %w", err)
		}
		opts := filepath.Join(m.CADir, "localca.options")
		if err := os.WriteFile(opts, []byte("--platform-manufacturer TEP\n--platform-version 2.1\n--platform-model swtpm\n"), 0o600); err != nil {
			return fmt.Errorf("manufacturing swtpm: %w", err)
		}
		setup = fmt.Sprintf("create_certs_tool = swtpm_localca\ncreate_certs_tool_config = %s\ncreate_certs_tool_options = %s\n", ca, opts)
	}
	if m.EKCert {
		args = append(args, "--create-ek-cert")
	}
	if m.PlatformCert {
		args = append(args, "--create-platform-cert")
	}
	if err := os.WriteFile(conf, []byte(setup), 0o600); err != nil {
		return fmt.Errorf("manufacturing swtpm: %w", err)
	}
	args = append(args, "--config", conf)
	out, err := exec.Command("swtpm_setup", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("manufacturing swtpm: swtpm_setup %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}
