package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	// pkcs11-tool's own self-test, logged in: random, digests, every
	// signature and decryption mechanism (OAEP with and without a label)
	// on the keys above.
	if out := must(append(login, "--test")...); !strings.Contains(out, "No errors") {
		t.Errorf("pkcs11-tool --test found errors:\n%s", out)
	}
	out, err := d.tool("--sign", "-m", "SHA256-RSA-PKCS", "--id", "01", "--input-file", msg, "--output-file", filepath.Join(dir, "x"))
	if err == nil {
		t.Errorf("signing without login succeeded:\n%s", out)
	}
}

// TestAESWithPkcs11Tool generates an AES key in the TPM and encrypts and
// decrypts a file with it in each mode pkcs11-tool offers.
func TestAESWithPkcs11Tool(t *testing.T) {
	d := startTepd(t, "sim")
	dir := t.TempDir()
	login := []string{"--login", "--pin", userPIN}
	if out, err := d.tool(append(login, "--keygen", "--key-type", "AES:32", "--label", "aes-key", "--id", "10")...); err != nil {
		t.Fatalf("--keygen AES:32: %v\n%s", err, out)
	}
	plain := filepath.Join(dir, "plain")
	data := make([]byte, 100000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	os.WriteFile(plain, data, 0o600)
	for _, m := range []struct{ mech, iv string }{
		{"AES-CBC", "000102030405060708090a0b0c0d0e0f"},
		{"AES-CBC-PAD", "0f0e0d0c0b0a09080706050403020100"},
		{"AES-ECB", ""},
	} {
		args := func(op, in, out string) []string {
			a := append(append([]string{}, login...), op, "-m", m.mech, "--id", "10", "--input-file", in, "--output-file", out)
			if m.iv != "" {
				a = append(a, "--iv", m.iv)
			}
			return a
		}
		enc, dec := filepath.Join(dir, m.mech+".enc"), filepath.Join(dir, m.mech+".dec")
		if out, err := d.tool(args("--encrypt", plain, enc)...); err != nil {
			t.Fatalf("%s --encrypt: %v\n%s", m.mech, err, out)
		}
		if out, err := d.tool(args("--decrypt", enc, dec)...); err != nil {
			t.Fatalf("%s --decrypt: %v\n%s", m.mech, err, out)
		}
		ct, _ := os.ReadFile(enc)
		got, _ := os.ReadFile(dec)
		if string(got) != string(data) || string(ct[:32]) == string(data[:32]) {
			t.Errorf("%s: round trip through the TPM failed (%d bytes back)", m.mech, len(got))
		}
	}
}

// TestDemoApp runs tep_test_app, the C demo linked to the module, twice
// against a freshly initialised token: every call must succeed both times
// (the second run recreates the data object the first one destroyed).
func TestDemoApp(t *testing.T) {
	d := startTepd(t, "sim")
	for run := 1; run <= 2; run++ {
		cmd := exec.Command(bin.demo, userPIN)
		cmd.Env = d.env()
		out, err := withTimeout(cmd, 2*time.Minute)
		if err != nil || !strings.Contains(string(out), "tep_test_app: all calls succeeded") {
			t.Fatalf("run %d: %v\n%s", run, err, out)
		}
		for _, want := range []string{"SlotCount = 1", "Modulus bits: 2048", "This is my data object", "AES object count 1 found"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("run %d: output lacks %q", run, want)
			}
		}
	}
}
