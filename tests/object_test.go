package tests

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestObjectsWithPkcs11Tool writes, lists, reads and deletes a data object
// and an X.509 certificate with pkcs11-tool, and sees them from a second
// process at once.
func TestObjectsWithPkcs11Tool(t *testing.T) {
	d := startTepd(t, "sim")
	dir := t.TempDir()
	must := func(args ...string) string {
		t.Helper()
		out, err := d.tool(args...)
		if err != nil {
			t.Fatalf("pkcs11-tool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	data := filepath.Join(dir, "data.bin")
	os.WriteFile(data, []byte("This is my data object"), 0o600)
	must("--login", "--pin", userPIN, "--write-object", data, "--type", "data", "--label", "demo-data")

	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(42), Subject: pkix.Name{CommonName: "tep test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(dir, "cert.der")
	os.WriteFile(certFile, der, 0o600)
	must("--login", "--pin", userPIN, "--write-object", certFile, "--type", "cert", "--label", "demo-cert", "--id", "0102")

	list := must("--list-objects")
	for _, want := range []string{"demo-data", "demo-cert", "tep test"} {
		if !strings.Contains(list, want) {
			t.Errorf("--list-objects lacks %q:\n%s", want, list)
		}
	}
	out := filepath.Join(dir, "out.der")
	must("--read-object", "--type", "cert", "--id", "0102", "--output-file", out)
	if got, _ := os.ReadFile(out); string(got) != string(der) {
		t.Errorf("certificate read back differs from the one written")
	}
	must("--read-object", "--type", "data", "--label", "demo-data", "--output-file", out)
	if got, _ := os.ReadFile(out); string(got) != "This is my data object" {
		t.Errorf("data object read back = %q", got)
	}
	must("--login", "--pin", userPIN, "--delete-object", "--type", "data", "--label", "demo-data")
	if list := must("--list-objects"); strings.Contains(list, "demo-data") {
		t.Errorf("data object still listed after --delete-object:\n%s", list)
	}
	// Token objects outlive tepd.
	d.stop()
	d.start()
	if list := must("--list-objects"); !strings.Contains(list, "demo-cert") {
		t.Errorf("certificate lost over a tepd restart:\n%s", list)
	}
}

// TestVerifyWithPkcs11Tool: a public key written with pkcs11-tool verifies
// signatures made by Go's crypto, and refuses a tampered one.
func TestVerifyWithPkcs11Tool(t *testing.T) {
	d := startTepd(t, "sim")
	dir := t.TempDir()
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	os.WriteFile(filepath.Join(dir, "pub.der"), pub, 0o600)
	msg := []byte("sign me")
	sum := sha256.Sum256(msg)
	sig, _ := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	os.WriteFile(filepath.Join(dir, "msg"), msg, 0o600)
	os.WriteFile(filepath.Join(dir, "sig"), sig, 0o600)
	sig[10] ^= 1
	os.WriteFile(filepath.Join(dir, "bad"), sig, 0o600)
	if out, err := d.tool("--login", "--pin", userPIN, "--write-object", filepath.Join(dir, "pub.der"), "--type", "pubkey", "--label", "verifier", "--id", "0a"); err != nil {
		t.Fatalf("--write-object pubkey: %v\n%s", err, out)
	}
	out, err := d.tool("--verify", "-m", "SHA256-RSA-PKCS", "--id", "0a", "--input-file", filepath.Join(dir, "msg"), "--signature-file", filepath.Join(dir, "sig"))
	if err != nil || !strings.Contains(out, "Signature is valid") {
		t.Errorf("--verify of a good signature: %v\n%s", err, out)
	}
	out, err = d.tool("--verify", "-m", "SHA256-RSA-PKCS", "--id", "0a", "--input-file", filepath.Join(dir, "msg"), "--signature-file", filepath.Join(dir, "bad"))
	if !strings.Contains(out, "Invalid signature") { // pkcs11-tool exits 0 either way
		t.Errorf("--verify of a tampered signature: %v\n%s", err, out)
	}
}
