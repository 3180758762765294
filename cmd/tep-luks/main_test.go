package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"tep.dev/tep/internal/swtpm"
	"tep.dev/tep/provisioning/device"
	"tep.dev/tep/provisioning/luks"
	"tep.dev/tep/provisioning/signer"
	"tep.dev/tep/tpm"
	"tep.dev/tep/tpm/tpmtest"
)

func runCmd(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, strings.NewReader(""), &out, &errOut)
	code := 0
	if err != nil {
		code = exitCode(err)
		errOut.WriteString(err.Error())
	}
	return out.String(), errOut.String(), code
}

func writeKey(t *testing.T, path string, k any) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// provision writes pub to the policy key's NV index with tep-provision's
// code.
func provision(t *testing.T, spec string, pub *ecdsa.PublicKey) {
	t.Helper()
	tp, err := tpm.Open(spec, "")
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	if _, err := device.WritePolicyKey(tp, pub, false); err != nil {
		t.Fatal(err)
	}
}

// TestCommand drives tep-luks as an operator would: sign from the PCR
// file tpm2_pcrread writes, then setup, status, unlock and revoke on
// swtpm, with the exit codes of the failures.
func TestCommand(t *testing.T) {
	spec := tpmtest.Start(t, swtpm.Config{TCP: true, Manufacture: &swtpm.Manufacture{PCRBanks: []string{"sha256", "sha384"}}})
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	key, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	writeKey(t, p("key.pem"), key)
	provision(t, spec, &key.PublicKey)
	if out, err := exec.Command("truncate", "-s", "64M", p("part.img")).CombinedOutput(); err != nil {
		t.Fatalf("truncate: %v %s", err, out)
	}
	hp := strings.TrimPrefix(spec, "swtpm:")
	i := strings.LastIndex(hp, ":")
	cmd := exec.Command("tpm2_pcrread", "-o", p("pcrs.dat"), "sha384:0,7,10")
	cmd.Env = append(os.Environ(), "TPM2TOOLS_TCTI=swtpm:host="+hp[:i]+",port="+hp[i+1:])
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tpm2_pcrread: %v %s", err, out)
	}
	sign := []string{"sign", "--pcr-values", p("pcrs.dat"), "--bank", "sha384", "--key", p("key.pem"),
		"--device", p("part.img"), "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000"}
	if _, errOut, code := runCmd(t, append(sign, "-o", p("luks.yaml"))...); code != 0 {
		t.Fatalf("sign: exit %d: %s", code, errOut)
	}
	dev := []string{"--tpm", spec, "--config", p("luks.yaml"), "--state", p("state")}
	out, errOut, code := runCmd(t, append([]string{"setup", "--json"}, dev...)...)
	if code != 0 {
		t.Fatalf("setup: exit %d: %s", code, errOut)
	}
	var res luks.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Action != "formatted" {
		t.Fatalf("setup --json = %q, %v", out, err)
	}
	if out, errOut, code = runCmd(t, append([]string{"unlock"}, dev...)...); code != 0 || !strings.Contains(out, "unlocked") {
		t.Fatalf("unlock: exit %d: %s %s", code, out, errOut)
	}
	out, _, code = runCmd(t, "status", "--json", "--tpm", spec, "--config", p("luks.yaml"))
	var st luks.Status
	if err := json.Unmarshal([]byte(out), &st); code != 0 || err != nil || !st.Sealed || !st.PolicyMatches || len(st.Moved) != 0 {
		t.Fatalf("status --json: exit %d: %s (%v)", code, out, err)
	}

	// Failures and their exit codes.
	if _, _, code = runCmd(t, "frobnicate"); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
	if _, _, code = runCmd(t, "sign", "--bank", "sha384"); code != 2 {
		t.Errorf("sign without its flags: exit %d, want 2", code)
	}
	yaml, _ := os.ReadFile(p("luks.yaml"))
	os.WriteFile(p("tampered.yaml"), append(yaml, []byte("extra: 1\n")...), 0o600)
	if _, _, code = runCmd(t, "unlock", "--tpm", spec, "--config", p("tampered.yaml")); code != 3 {
		t.Errorf("unlock with an unknown field: exit %d, want 3", code)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	writeKey(t, p("other.pem"), other)
	runCmd(t, "sign", "--pcr-values", p("pcrs.dat"), "--bank", "sha384", "--key", p("other.pem"), "--device", p("part.img"), "-o", p("other.yaml"))
	if _, _, code = runCmd(t, "unlock", "--tpm", spec, "--config", p("other.yaml")); code != 3 {
		t.Errorf("unlock with another key's signature: exit %d, want 3", code)
	}
	if _, _, code = runCmd(t, append(sign, "--epoch", "2", "-o", p("luks2.yaml"))...); code != 0 {
		t.Fatal("sign epoch 2")
	}
	if out, _, code = runCmd(t, "revoke", "--tpm", spec, "--config", p("luks2.yaml")); code != 0 || !strings.Contains(out, "below 2") {
		t.Fatalf("revoke: exit %d: %s", code, out)
	}
	if _, _, code = runCmd(t, append([]string{"unlock"}, dev...)...); code != 5 {
		t.Errorf("unlock of a revoked epoch: exit %d, want 5", code)
	}
	// A LUKS partition this TPM has no passphrase for is not formatted.
	if out, err := exec.Command("truncate", "-s", "64M", p("foreign.img")).CombinedOutput(); err != nil {
		t.Fatalf("truncate: %v %s", err, out)
	}
	if err := (luks.Cryptsetup{}).Format(context.Background(), p("foreign.img"), []byte("x"), "", luks.FormatOptions{PBKDF: "pbkdf2", PBKDFForceIterations: 1000}); err != nil {
		t.Fatal(err)
	}
	if _, _, code = runCmd(t, append(sign, "--epoch", "2", "--device", p("foreign.img"), "-o", p("foreign.yaml"))...); code != 0 {
		t.Fatal("sign for foreign.img")
	}
	if _, errOut, code = runCmd(t, "setup", "--tpm", spec, "--config", p("foreign.yaml"), "--state", p("state")); code != 6 || !strings.Contains(errOut, "--reformat-destroys-data") {
		t.Errorf("setup on a foreign LUKS partition: exit %d, want 6: %s", code, errOut)
	}
	// RSA keys sign only for systemd.
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	writeKey(t, p("rsa.pem"), rk)
	if _, _, code = runCmd(t, "sign", "--pcr-values", p("pcrs.dat"), "--bank", "sha384", "--key", p("rsa.pem"), "--device", "x", "-o", p("r.yaml")); code != 1 {
		t.Errorf("sign --format tep with an RSA key: exit %d, want 1", code)
	}
	if out, errOut, code = runCmd(t, "--help"); code != 0 || !strings.Contains(out, "tep-luks setup") {
		t.Errorf("--help: exit %d: %s %s", code, out, errOut)
	}
}

// TestSignPKCS11: the policy key held in a PKCS#11 token (SoftHSM) signs
// through a pkcs11: URI, and the device unlocks with what it signed.
func TestSignPKCS11(t *testing.T) {
	module := ""
	for _, m := range []string{"/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"} {
		if _, err := os.Stat(m); err == nil {
			module = m
		}
	}
	if module == "" {
		t.Fatal("libsofthsm2.so not found: scripts/deps.sh installs softhsm2")
	}
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	os.WriteFile(p("softhsm2.conf"), []byte("directories.tokendir = "+dir+"\nobjectstore.backend = file\n"), 0o600)
	t.Setenv("SOFTHSM2_CONF", p("softhsm2.conf"))
	for _, args := range [][]string{
		{"softhsm2-util", "--init-token", "--free", "--label", "admin", "--so-pin", "5678", "--pin", "1234"},
		{"pkcs11-tool", "--module", module, "--token-label", "admin", "--login", "--pin", "1234", "--keypairgen", "--key-type", "EC:secp384r1", "--label", "luks"},
		{"truncate", "-s", "64M", p("part.img")},
	} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	uri := "pkcs11:token=admin;object=luks?module-path=" + module + "&pin-value=1234"
	s, closer, err := signer.Load(uri)
	if err != nil {
		t.Fatal(err)
	}
	pub := s.Public().(*ecdsa.PublicKey)
	closer.Close()
	spec := tpmtest.Start(t, swtpm.Config{TCP: true, Manufacture: &swtpm.Manufacture{PCRBanks: []string{"sha256", "sha384"}}})
	provision(t, spec, pub)
	os.WriteFile(p("pcrs.dat"), make([]byte, 3*32), 0o600) // PCRs 0, 7 and 10 at reset
	if _, errOut, code := runCmd(t, "sign", "--pcr-values", p("pcrs.dat"), "--key", uri, "--device", p("part.img"),
		"--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000", "-o", p("luks.yaml")); code != 0 {
		t.Fatalf("sign with a pkcs11: URI: exit %d: %s", code, errOut)
	}
	if out, errOut, code := runCmd(t, "setup", "--tpm", spec, "--config", p("luks.yaml"), "--state", p("state")); code != 0 || !strings.Contains(out, "formatted") {
		t.Fatalf("setup: exit %d: %s %s", code, out, errOut)
	}
}

// The YAML sits in the update user's upload folder by default: a FIFO
// there must not hang the boot unit, and a link to a root-only file must
// not make tep-luks print that file's lines in its error.
func TestConfigPlacedByUploadUser(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "shadow")
	os.WriteFile(secret, []byte("root:$6$s3cr3thash:19000:0:99999:7:::\n"), 0o600)
	link := filepath.Join(dir, "link.yaml")
	if err := os.Symlink(secret, link); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runCmd(t, "status", "--config", link, "--tpm", "sim")
	if code == 0 || strings.Contains(stderr, "s3cr3t") {
		t.Errorf("status --config LINK-TO-SHADOW = %d, %q; want a failure that does not show the file", code, stderr)
	}
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 1)
	go func() { _, _, code := runCmd(t, "unlock", "--config", fifo, "--tpm", "sim"); done <- code }()
	select {
	case code := <-done:
		if code == 0 {
			t.Errorf("unlock --config FIFO succeeded")
		}
	case <-time.After(30 * time.Second):
		t.Error("unlock blocked opening a FIFO placed as the configuration")
		for {
			if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				f.Close()
			}
			select {
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}
