package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKeysWithPkcs11Tool generates key pairs in the TPM with pkcs11-tool,
// signs with every signing mechanism pkcs11-tool offers for them and
// verifies the signatures, also after tepd restarted.
func TestKeysWithPkcs11Tool(t *testing.T) {
	d := startTepd(t, "sim")
	dir := t.TempDir()
	msg := filepath.Join(dir, "msg")
	os.WriteFile(msg, []byte("sign this, TPM"), 0o600)
	login := []string{"--login", "--pin", userPIN}
	must := func(args ...string) string {
		t.Helper()
		out, err := d.tool(args...)
		if err != nil {
			t.Fatalf("pkcs11-tool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	keys := []struct {
		spec, id string
		mechs    []string
	}{
		{"rsa:2048", "01", []string{"SHA1-RSA-PKCS", "SHA256-RSA-PKCS", "SHA384-RSA-PKCS", "SHA512-RSA-PKCS", "SHA256-RSA-PKCS-PSS", "SHA384-RSA-PKCS-PSS", "SHA512-RSA-PKCS-PSS"}},
		{"EC:secp256r1", "02", []string{"ECDSA-SHA1", "ECDSA-SHA256", "ECDSA-SHA384", "ECDSA-SHA512"}},
		{"EC:secp384r1", "03", []string{"ECDSA-SHA256", "ECDSA-SHA384"}},
	}
	for _, k := range keys {
		must(append(login, "--keypairgen", "--key-type", k.spec, "--id", k.id, "--label", "key-"+k.id)...)
	}
	list := must(append(login, "--list-objects")...)
	for _, k := range keys {
		if !strings.Contains(list, "key-"+k.id) {
			t.Errorf("--list-objects lacks key-%s:\n%s", k.id, list)
		}
	}
	signAll := func() {
		t.Helper()
		for _, k := range keys {
			for _, m := range k.mechs {
				sig := filepath.Join(dir, "sig-"+k.id+"-"+m)
				must(append(login, "--sign", "-m", m, "--id", k.id, "--input-file", msg, "--output-file", sig)...)
				out := must("--verify", "-m", m, "--id", k.id, "--input-file", msg, "--signature-file", sig)
				if !strings.Contains(out, "Signature is valid") {
					t.Errorf("%s %s: the TPM's signature does not verify:\n%s", k.spec, m, out)
				}
			}
		}
	}
	signAll()
	d.stop()
	d.start()
	signAll() // token keys outlive tepd
	out, err := d.tool("--sign", "-m", "SHA256-RSA-PKCS", "--id", "01", "--input-file", msg, "--output-file", filepath.Join(dir, "x"))
	if err == nil {
		t.Errorf("signing without login succeeded:\n%s", out)
	}
}
