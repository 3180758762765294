package main

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"tep.dev/tep/provisioning/blob"
	"tep.dev/tep/provisioning/signer"
)

func runCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(args, strings.NewReader(""), &out, &errOut)
	return out.String() + errOut.String(), err
}

// TestSeal: seal with an OpenSSL-made key in both modes; the blobs
// verify with its public key and carry the epoch.
func TestSeal(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "policy.pem")
	if out, err := exec.Command("openssl", "ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out", key).CombinedOutput(); err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	conf := filepath.Join(dir, "conf")
	os.MkdirAll(filepath.Join(conf, "app"), 0o755)
	os.WriteFile(filepath.Join(conf, "app", "a.conf"), []byte("x"), 0o644)
	aes := filepath.Join(dir, "aes.key")
	os.WriteFile(aes, bytes.Repeat([]byte{7}, 32), 0o644)
	devKey, _ := ecdh.P384().GenerateKey(rand.Reader)
	devPEM := filepath.Join(dir, "device.pub")
	der, err := x509.MarshalPKIXPublicKey(devKey.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(devPEM, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644)

	out, err := runCmd(t, "seal", "--in", conf, "--sign-key", key, "--aes-key", aes, "--epoch", "4", "-o", filepath.Join(dir, "a.bin"))
	if err != nil {
		t.Fatalf("seal (aes): %v\n%s", err, out)
	}
	if !strings.Contains(out, "readable by others") {
		t.Errorf("seal did not warn of an AES key file readable by others:\n%s", out)
	}
	if out, err := runCmd(t, "seal", "--in", conf, "--sign-key", key, "--to", devPEM, "--epoch", "5", "-o", filepath.Join(dir, "e.bin")); err != nil {
		t.Fatalf("seal (ecdh): %v\n%s", err, out)
	}
	policy, closer, err := signer.Load(key)
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	for name, want := range map[string]struct {
		mode  blob.Mode
		epoch uint64
	}{"a.bin": {blob.ModeAES, 4}, "e.bin": {blob.ModeECDH, 5}} {
		raw, _ := os.ReadFile(filepath.Join(dir, name))
		v, err := blob.Verify(raw, policy.Public().(*ecdsa.PublicKey))
		if err != nil || v.Mode != want.mode || v.Epoch != want.epoch {
			t.Errorf("%s: Verify = %v, %v; want %v epoch %d", name, v, err, want.mode, want.epoch)
		}
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"frobnicate"},
		{"seal", "--in", "x"},
		{"seal", "--in", "x", "--sign-key", "k", "--epoch", "1", "-o", "o"},
		{"apply", "--tpm", "sim"},
		{"apply", "extra"},
	} {
		if _, err := runCmd(t, args...); err == nil {
			t.Errorf("tep-config %q = nil error", args)
		}
	}
	if out, err := runCmd(t, "--help"); err != nil || !strings.Contains(out, "tep-config apply") {
		t.Errorf("--help = %q, %v", out, err)
	}
}

// TestInstall: make install-config installs the binary and both units,
// pointed at BINDIR; systemd-analyze verify accepts them.
func TestInstall(t *testing.T) {
	build := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", build, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dest := t.TempDir()
	out, err := exec.Command("make", "-s", "-C", "../..", "install-config", "BUILD="+build, "DESTDIR="+dest, "PREFIX=/usr", "SYSCONFDIR=/etc").CombinedOutput()
	if err != nil {
		t.Fatalf("make install-config: %v\n%s", err, out)
	}
	units := filepath.Join(dest, "usr/lib/systemd/system")
	svc, err := os.ReadFile(filepath.Join(units, "tep-config.service"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^ExecStart=/usr/bin/tep-config apply `).Match(svc) {
		t.Errorf("ExecStart not pointed at /usr/bin:\n%s", svc)
	}
	if _, err := os.Stat(filepath.Join(dest, "usr/bin/tep-config")); err != nil {
		t.Error(err)
	}
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("no systemd-analyze: scripts/deps.sh installs systemd")
	}
	// verify insists that ExecStart's program exists: run it from DESTDIR.
	svc = bytes.Replace(svc, []byte("ExecStart=/usr/bin/"), []byte("ExecStart="+dest+"/usr/bin/"), 1)
	os.WriteFile(filepath.Join(units, "tep-config.service"), svc, 0o644)
	out, err = exec.Command(sa, "verify", filepath.Join(units, "tep-config.path"), filepath.Join(units, "tep-config.service")).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	// The sandbox: systemd-analyze security rates it 1.6 OK; keep it at
	// 2.0 or below.
	out, _ = exec.Command(sa, "security", "--offline=true", filepath.Join(units, "tep-config.service")).CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for tep-config.service: (\d+\.\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security printed no exposure:\n%s", out)
	}
	if level, _ := strconv.ParseFloat(string(m[1]), 64); level > 2.0 {
		t.Errorf("tep-config.service exposure %v, want 2.0 or below", level)
	}
}

// TestSealPKCS11: seal signs with a P-384 key held in a SoftHSM token,
// named by an RFC 7512 URI; the blob verifies with the token key's
// public half.
func TestSealPKCS11(t *testing.T) {
	module := ""
	for _, p := range []string{"/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"} {
		if _, err := os.Stat(p); err == nil {
			module = p
		}
	}
	if module == "" {
		t.Fatal("libsofthsm2.so not found: scripts/deps.sh installs softhsm2")
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "softhsm2.conf")
	os.WriteFile(conf, []byte("directories.tokendir = "+dir+"\nobjectstore.backend = file\n"), 0o600)
	t.Setenv("SOFTHSM2_CONF", conf)
	for _, args := range [][]string{
		{"softhsm2-util", "--init-token", "--free", "--label", "admin", "--so-pin", "5678", "--pin", "1234"},
		{"pkcs11-tool", "--module", module, "--token-label", "admin", "--login", "--pin", "1234", "--keypairgen", "--key-type", "EC:secp384r1", "--label", "policy"},
	} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	uri := "pkcs11:token=admin;object=policy?module-path=" + module + "&pin-value=1234"
	conf2 := filepath.Join(dir, "conf")
	os.MkdirAll(conf2, 0o755)
	os.WriteFile(filepath.Join(conf2, "a"), []byte("x"), 0o644)
	aes := filepath.Join(dir, "aes.key")
	os.WriteFile(aes, make([]byte, 32), 0o600)
	out := filepath.Join(dir, "b.bin")
	if msg, err := runCmd(t, "seal", "--in", conf2, "--sign-key", uri, "--aes-key", aes, "--epoch", "1", "-o", out); err != nil {
		t.Fatalf("seal with %s: %v\n%s", uri, err, msg)
	}
	if msg, err := runCmd(t, "seal", "--in", conf2, "--sign-key", strings.Replace(uri, "1234", "0000", 1), "--aes-key", aes, "--epoch", "1", "-o", out); err == nil {
		t.Errorf("seal with a wrong PIN succeeded:\n%s", msg)
	}
	s, closer, err := signer.Load(uri)
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	raw, _ := os.ReadFile(out)
	if _, err := blob.Verify(raw, s.Public().(*ecdsa.PublicKey)); err != nil {
		t.Errorf("Verify(blob signed in SoftHSM) = %v", err)
	}
}
