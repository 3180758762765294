package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// opensslConf loads libp11's engine with the module under test.
func opensslConf(t *testing.T, dir string) string {
	t.Helper()
	engine, err := filepath.Glob("/usr/lib/*/engines-3/pkcs11.so")
	if err != nil || len(engine) == 0 {
		t.Fatal("libp11's OpenSSL engine (libengine-pkcs11-openssl) is not installed")
	}
	conf := filepath.Join(dir, "openssl.cnf")
	os.WriteFile(conf, []byte(`openssl_conf = openssl_init
[openssl_init]
engines = engine_section
[engine_section]
pkcs11 = pkcs11_section
[pkcs11_section]
engine_id = pkcs11
dynamic_path = `+engine[0]+`
MODULE_PATH = `+bin.module+`
init = 0
[req]
distinguished_name = dn
[dn]
`), 0o600)
	return conf
}

// TestOpenSSLEngine makes a self-signed certificate and a CSR with keys in
// the TPM, named by PKCS#11 URIs, through OpenSSL's pkcs11 engine; OpenSSL
// then verifies both with the public key it read back through the module.
func TestOpenSSLEngine(t *testing.T) {
	d := startTepd(t, "sim")
	dir := t.TempDir()
	conf := opensslConf(t, dir)
	for _, k := range []struct{ spec, label, id string }{{"rsa:2048", "tls-rsa", "41"}, {"EC:secp256r1", "tls-ec", "42"}} {
		if out, err := d.tool("--login", "--pin", userPIN, "--keypairgen", "--key-type", k.spec, "--label", k.label, "--id", k.id); err != nil {
			t.Fatalf("--keypairgen %s: %v\n%s", k.spec, err, out)
		}
		uri := "pkcs11:token=TEP%20Token;object=" + k.label + ";type=private;pin-value=" + userPIN
		openssl := func(args ...string) string {
			t.Helper()
			cmd := exec.Command("openssl", args...)
			cmd.Env = append(d.env(), "OPENSSL_CONF="+conf)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			return string(out)
		}
		cert, csr := filepath.Join(dir, k.label+".pem"), filepath.Join(dir, k.label+".csr")
		openssl("req", "-new", "-x509", "-engine", "pkcs11", "-keyform", "engine", "-key", uri,
			"-subj", "/CN=TEP "+k.label, "-days", "1", "-sha256", "-out", cert)
		if out := openssl("verify", "-CAfile", cert, cert); !strings.Contains(out, "OK") {
			t.Errorf("%s: openssl verify:\n%s", k.label, out)
		}
		openssl("req", "-new", "-engine", "pkcs11", "-keyform", "engine", "-key", uri,
			"-subj", "/CN=TEP request", "-sha256", "-out", csr)
		if out := openssl("req", "-verify", "-noout", "-in", csr); !strings.Contains(out, "verify OK") && !strings.Contains(out, "Certificate request self-signature verify OK") {
			t.Errorf("%s: openssl req -verify:\n%s", k.label, out)
		}
	}
}

// TestGnuTLSP11Tool lists tokens and objects and signs with a TPM key
// through GnuTLS's p11tool.
func TestGnuTLSP11Tool(t *testing.T) {
	d := startTepd(t, "sim")
	if out, err := d.tool("--login", "--pin", userPIN, "--keypairgen", "--key-type", "EC:secp256r1", "--label", "gnutls-key", "--id", "77"); err != nil {
		t.Fatalf("--keypairgen: %v\n%s", err, out)
	}
	p11tool := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("p11tool", append([]string{"--provider", bin.module}, args...)...)
		cmd.Env = d.env()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("p11tool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if out := p11tool("--list-tokens"); !strings.Contains(out, "TEP Token") {
		t.Errorf("--list-tokens:\n%s", out)
	}
	if out := p11tool("--login", "--set-pin="+userPIN, "--list-all", "pkcs11:token=TEP%20Token"); !strings.Contains(out, "gnutls-key") {
		t.Errorf("--list-all:\n%s", out)
	}
	out := p11tool("--login", "--set-pin="+userPIN, "--test-sign", "pkcs11:token=TEP%20Token;object=gnutls-key;type=private")
	if !strings.Contains(out, "Verifying against public key") || strings.Contains(strings.ToLower(out), "fail") {
		t.Errorf("--test-sign:\n%s", out)
	}
}
