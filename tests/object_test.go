package tests

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
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
