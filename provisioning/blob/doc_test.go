package blob

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// byHand returns the shell commands of docs/config-blob.md that check an
// aes blob with OpenSSL.
func byHand(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/config-blob.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "<!-- by-hand: begin -->")
	block, _, ok2 := strings.Cut(rest, "<!-- by-hand: end -->")
	if !ok || !ok2 {
		t.Fatal("docs/config-blob.md has no by-hand block")
	}
	block = strings.TrimSpace(block)
	block = strings.TrimPrefix(block, "```sh")
	return strings.TrimSuffix(block, "```")
}

// runByHand runs the documented commands in dir with env and returns
// their output and the .tgz they decrypted.
func runByHand(t *testing.T, dir string, env ...string) (string, []byte) {
	t.Helper()
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", byHand(t))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the documented commands failed: %v\n%s", err, out)
	}
	tgz, err := os.ReadFile(filepath.Join(dir, "config.tgz"))
	if err != nil {
		t.Fatal(err)
	}
	return string(out), tgz
}

func copyFiles(t *testing.T, dst string, names ...string) {
	t.Helper()
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dst, n), b, 0o600)
	}
}

func TestByHand(t *testing.T) {
	t.Run("documented blob", func(t *testing.T) {
		dir := t.TempDir()
		copyFiles(t, dir, "aes-p384.bin", "policy.pub.pem", "aes.key")
		out, tgz := runByHand(t, dir)
		checkByHand(t, out, tgz, "aes-p384.bin", "aes.key", "policy.pub.pem")
	})
	t.Run("fresh p256 aes128", func(t *testing.T) {
		dir := t.TempDir()
		signer := newSigner(t, elliptic.P256())
		der, _ := x509.MarshalPKIXPublicKey(&signer.PublicKey)
		os.WriteFile(filepath.Join(dir, "p.pem"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600)
		key := make([]byte, 16)
		rand.Read(key)
		os.WriteFile(filepath.Join(dir, "k"), key, 0o600)
		content := tgzOf(t)
		raw := seal(t, content, Options{Signer: signer, Epoch: 9, AESKey: key})
		os.WriteFile(filepath.Join(dir, "b"), raw, 0o600)
		out, tgz := runByHand(t, dir, "blob=b", "pub=p.pem", "key=k", "hash=sha256", "cipher=aes-128-ctr")
		if !bytes.Equal(tgz, content) {
			t.Error("OpenSSL's plaintext is not the sealed .tgz")
		}
		checkByHand(t, out, tgz, "", "", "")
	})
	t.Run("a flipped bit fails", func(t *testing.T) {
		dir := t.TempDir()
		copyFiles(t, dir, "aes-p384.bin", "policy.pub.pem", "aes.key")
		p := filepath.Join(dir, "aes-p384.bin")
		b, _ := os.ReadFile(p)
		b[100] ^= 1
		os.WriteFile(p, b, 0o600)
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", byHand(t))
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err == nil {
			t.Errorf("the documented commands passed a flipped blob:\n%s", out)
		}
	})
}

func checkByHand(t *testing.T, out string, tgz []byte, blobName, keyName, pubName string) {
	t.Helper()
	for _, want := range []string{"Signer OK", "Verified OK", "Marker OK"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if blobName == "" {
		return
	}
	raw, _ := os.ReadFile(filepath.Join("testdata", blobName))
	key, _ := os.ReadFile(filepath.Join("testdata", keyName))
	pemBytes, _ := os.ReadFile(filepath.Join("testdata", pubName))
	p, _ := pem.Decode(pemBytes)
	pub, err := x509.ParsePKIXPublicKey(p.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	v, err := Verify(raw, pub.(*ecdsa.PublicKey))
	if err != nil {
		t.Fatalf("Verify(documented blob) = %v", err)
	}
	got, err := Decrypt(v, softKey{aes: key}, nil)
	if err != nil || !bytes.Equal(got, tgz) {
		t.Errorf("Decrypt(documented blob) = %v; equal to OpenSSL's: %v", err, bytes.Equal(got, tgz))
	}
	if !strings.Contains(out, "app/app.conf") {
		t.Errorf("tar listing lacks app/app.conf:\n%s", out)
	}
}

// tgzOf is a small .tgz made by tar itself.
func tgzOf(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("x\n"), 0o644)
	out, err := exec.Command("tar", "-czf", "-", "-C", dir, "f").Output()
	if err != nil {
		t.Fatal(err)
	}
	return out
}
