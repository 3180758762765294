package config

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

func TestReadContent(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644)
	tgz := filepath.Join(t.TempDir(), "c.tgz")
	if out, err := exec.Command("tar", "-czf", tgz, "-C", dir, "f").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	want, _ := os.ReadFile(tgz)
	if got, err := ReadContent(tgz); err != nil || !bytes.Equal(got, want) {
		t.Errorf("ReadContent(.tgz) = %d bytes, %v; want the file as it is", len(got), err)
	}
	got, err := ReadContent(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	cmd := exec.Command("tar", "-xzf", "-", "-C", out)
	cmd.Stdin = bytes.NewReader(got)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tar -x of the packed directory: %v\n%s", err, b)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "f")); string(b) != "x" {
		t.Errorf("packed directory holds f = %q", b)
	}
	if _, err := ReadContent(filepath.Join(dir, "missing")); err == nil {
		t.Error("ReadContent(missing) = nil error")
	}
}

func TestParseDeviceKey(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if pub, err := ParseDeviceKey(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})); err != nil || len(pub.Bytes()) != 97 {
		t.Errorf("ParseDeviceKey(P-384) = %v", err)
	}
	for name, b := range map[string]string{
		"not PEM":     "hello",
		"private key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
		"bad DER":     "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
	} {
		if _, err := ParseDeviceKey([]byte(b)); err == nil || !strings.Contains(err.Error(), "device key") {
			t.Errorf("ParseDeviceKey(%s) = %v, want an error about the device key", name, err)
		}
	}
}
