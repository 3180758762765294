package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tep.dev/tep/internal/swtpm"
	"tep.dev/tep/link"
	"tep.dev/tep/provisioning/device"
	"tep.dev/tep/tpm/tpmtest"
)

// tool runs tep-provision in this process and returns its exit status and
// output.
func tool(t *testing.T, stdin io.Reader, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	if stdin == nil {
		stdin = bytes.NewReader(nil)
	}
	var out, errOut bytes.Buffer
	code = run(args, stdin, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		out  string // in stdout for 0, in stderr otherwise
	}{
		{nil, 2, "usage:"},
		{[]string{"bogus"}, 2, `unknown command "bogus"`},
		{[]string{"--help"}, 0, "tep-provision device --policy-key"},
		{[]string{"device", "--help"}, 0, "-aes-key"},
		{[]string{"status", "-h"}, 0, "-json"},
		{[]string{"clear", "--help"}, 0, "-yes"},
		{[]string{"device-key", "--help"}, 0, "-curve"},
		{[]string{"device"}, 2, "needs --policy-key and --aes-key"},
		{[]string{"device", "--policy-key", "p.pem"}, 2, "needs --policy-key and --aes-key"},
		{[]string{"device", "--policy-key", "p.pem", "--aes-key", "-", "--shred"}, 2, "--shred needs a key file"},
		{[]string{"device", "--policy-key", "p.pem", "--aes-key", "k", "--profile", "tpm3"}, 2, `--profile "tpm3"`},
		{[]string{"device", "--bogus"}, 2, "flag provided but not defined"},
		{[]string{"status", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"device-key", "--curve", "p521"}, 2, `--curve "p521"`},
		{[]string{"device", "--policy-key", "/nonexistent.pem", "--aes-key", "k"}, 1, "no such file"},
		{[]string{"status", "--tpm", "swtpm:127.0.0.1:1"}, 1, "opening TPM"},
	} {
		code, out, errOut := tool(t, nil, c.args...)
		where := errOut
		if c.code == 0 {
			where = out
		}
		if code != c.code || !strings.Contains(where, c.out) {
			t.Errorf("tep-provision %s: exit %d, stdout %q, stderr %q; want exit %d with %q", strings.Join(c.args, " "), code, out, errOut, c.code, c.out)
		}
	}
}

// keys writes a policy key (PEM) and an AES key file into dir.
func keys(t *testing.T, dir string, curve elliptic.Curve, aesLen int, mode os.FileMode) (pub *ecdsa.PublicKey, pemPath, keyPath string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	pemPath = filepath.Join(dir, fmt.Sprintf("pub-%p.pem", k))
	keyPath = filepath.Join(dir, fmt.Sprintf("key-%p.bin", k))
	key := make([]byte, aesLen)
	rand.Read(key)
	if err := os.WriteFile(pemPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, key, mode); err != nil {
		t.Fatal(err)
	}
	return &k.PublicKey, pemPath, keyPath
}

func TestDevice(t *testing.T) {
	spec := tpmtest.Start(t, swtpm.Config{TCP: true})
	dir := t.TempDir()
	pub, pemPath, keyPath := keys(t, dir, elliptic.P384(), 32, 0o644)
	args := []string{"device", "--tpm", spec, "--policy-key", pemPath, "--aes-key", keyPath}
	code, out, errOut := tool(t, nil, args...)
	fp := fmt.Sprintf("%x", device.Fingerprint(pub))
	if code != 0 || !strings.Contains(out, "written and write-locked") || !strings.Contains(out, fp) || !strings.Contains(out, "profile ptt (auto)") {
		t.Fatalf("device: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "warning: the AES key file") || !strings.Contains(errOut, "readable by others") {
		t.Errorf("device with a 0644 key file did not warn: %q", errOut)
	}
	code, out, _ = tool(t, nil, args...)
	if code != 0 || !strings.Contains(out, "unchanged: the TPM already holds these keys") {
		t.Fatalf("device again: exit %d\n%s", code, out)
	}
	// Another policy key: refused, naming the index and the key found.
	_, pem2, key2 := keys(t, dir, elliptic.P384(), 32, 0o600)
	code, _, errOut = tool(t, nil, "device", "--tpm", spec, "--policy-key", pem2, "--aes-key", key2)
	if code != 1 || !strings.Contains(errOut, "0x018a0000") || !strings.Contains(errOut, fp) || !strings.Contains(errOut, "--replace") {
		t.Fatalf("device with other keys: exit %d, %q", code, errOut)
	}
	// --replace, from standard input... and --shred needs a file: the
	// file here, shredded after success.
	code, out, errOut = tool(t, nil, "device", "--tpm", spec, "--policy-key", pem2, "--aes-key", key2, "--replace", "--shred")
	if code != 0 || !strings.Contains(out, "shredded "+key2) || strings.Contains(errOut, "warning") {
		t.Fatalf("device --replace --shred: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(key2); !os.IsNotExist(err) {
		t.Fatalf("after --shred the key file: %v", err)
	}
	// A refused run shreds nothing.
	_, pem3, key3 := keys(t, dir, elliptic.P384(), 16, 0o600)
	code, _, errOut = tool(t, nil, "device", "--tpm", spec, "--policy-key", pem3, "--aes-key", key3, "--shred")
	if _, err := os.Stat(key3); code != 1 || !strings.Contains(errOut, "profile ptt (auto)") || err != nil {
		t.Fatalf("device with a 16-byte key on ptt: exit %d, %q, key file %v", code, errOut, err)
	}
}

func TestDeviceDTPMFromStdin(t *testing.T) {
	spec := tpmtest.Start(t, swtpm.Config{TCP: true})
	dir := t.TempDir()
	_, pemPath, keyPath := keys(t, dir, elliptic.P256(), 16, 0o600)
	stdin, err := os.Open(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	code, out, errOut := tool(t, stdin, "device", "--tpm", spec, "--profile", "dtpm", "--policy-key", pemPath, "--aes-key", "-")
	if code != 0 || !strings.Contains(out, "profile dtpm (AES-128, P-256)") || !strings.Contains(out, "imported (AES-128") {
		t.Fatalf("device --profile dtpm: exit %d\n%s%s", code, out, errOut)
	}
	code, _, errOut = tool(t, nil, "device", "--tpm", spec, "--profile", "ptt", "--policy-key", pemPath, "--aes-key", keyPath)
	if code != 1 || !strings.Contains(errOut, "profile ptt (AES-256, P-384) needs a P-384 policy key") {
		t.Fatalf("device --profile ptt with dtpm keys: exit %d, %q", code, errOut)
	}
}

func TestStatusJSONAndClear(t *testing.T) {
	spec := tpmtest.Start(t, swtpm.Config{TCP: true})
	dir := t.TempDir()
	pub, pemPath, keyPath := keys(t, dir, elliptic.P384(), 32, 0o600)
	if code, out, errOut := tool(t, nil, "device", "--tpm", spec, "--policy-key", pemPath, "--aes-key", keyPath); code != 0 {
		t.Fatalf("device: %d\n%s%s", code, out, errOut)
	}
	devPub := filepath.Join(dir, "device.pub")
	code, out, errOut := tool(t, nil, "device-key", "--tpm", spec, "-o", devPub)
	filePEM, _ := os.ReadFile(devPub)
	if code != 0 || !strings.HasPrefix(out, "-----BEGIN PUBLIC KEY-----") || out != string(filePEM) || !strings.Contains(errOut, "ECC P-384") {
		t.Fatalf("device-key: exit %d, stdout %q, file %q, stderr %q", code, out, filePEM, errOut)
	}
	blk, _ := pem.Decode(filePEM)
	dk, _ := x509.ParsePKIXPublicKey(blk.Bytes)

	status := func() map[string]device.Entry {
		t.Helper()
		code, out, errOut := tool(t, nil, "status", "--tpm", spec, "--json")
		var s struct {
			TPM     string         `json:"tpm"`
			Handles []device.Entry `json:"handles"`
		}
		if err := json.Unmarshal([]byte(out), &s); code != 0 || err != nil || s.TPM != spec {
			t.Fatalf("status --json: exit %d, %v\n%s%s", code, err, out, errOut)
		}
		m := make(map[string]device.Entry)
		for _, e := range s.Handles {
			m[e.Handle] = e
		}
		return m
	}
	m := status()
	if e := m["0x018a0000"]; !e.Present || e.Fingerprint != fmt.Sprintf("%x", device.Fingerprint(pub)) {
		t.Errorf("status of the policy key: %+v", e)
	}
	if e := m["0x8100a002"]; !e.Present || e.Fingerprint != fmt.Sprintf("%x", device.Fingerprint(dk)) {
		t.Errorf("status of the device key: %+v", e)
	}
	if e := m["0x018a0001"]; !e.Present || e.Value == nil {
		t.Errorf("status of the epoch counter: %+v", e)
	}
	if e := m["0x8100a001"]; e.Present {
		t.Errorf("status of the LUKS handle: %+v", e)
	}
	code, out, _ = tool(t, nil, "status", "--tpm", spec)
	if code != 0 || !strings.Contains(out, "0x8100a001  LUKS passphrase") || !strings.Contains(out, "absent") || !strings.Contains(out, "AES-256, SHA256:") {
		t.Errorf("status: exit %d\n%s", code, out)
	}

	// Standard input is no terminal: clear wants --yes.
	code, _, errOut = tool(t, nil, "clear", "--tpm", spec)
	if code != 1 || !strings.Contains(errOut, "--yes") || !status()["0x018a0000"].Present {
		t.Fatalf("clear without --yes, stdin no terminal: exit %d, %q", code, errOut)
	}
	code, out, _ = tool(t, nil, "clear", "--tpm", spec, "--yes")
	m = status()
	if code != 0 || !strings.Contains(out, "removed policy key at 0x018a0000") || m["0x018a0000"].Present || m["0x8100a000"].Present || m["0x8100a002"].Present || !m["0x018a0001"].Present {
		t.Fatalf("clear --yes: exit %d\n%s\nstatus %+v", code, out, m)
	}
	code, out, _ = tool(t, nil, "clear", "--tpm", spec, "--all", "--yes")
	m = status()
	if code != 0 || m["0x018a0001"].Present || m["0x018a0002"].Present {
		t.Fatalf("clear --all --yes: exit %d\n%s\nstatus %+v", code, out, m)
	}
	if code, out, _ = tool(t, nil, "clear", "--tpm", spec, "--yes"); code != 0 || !strings.Contains(out, "nothing to remove") {
		t.Fatalf("clear on an empty TPM: exit %d, %q", code, out)
	}
}

// On a terminal, clear asks; anything but yes keeps everything.
func TestClearConfirms(t *testing.T) {
	spec := tpmtest.Start(t, swtpm.Config{TCP: true})
	dir := t.TempDir()
	_, pemPath, keyPath := keys(t, dir, elliptic.P384(), 32, 0o600)
	if code, _, errOut := tool(t, nil, "device", "--tpm", spec, "--policy-key", pemPath, "--aes-key", keyPath); code != 0 {
		t.Fatal(errOut)
	}
	for _, c := range []struct {
		answer string
		code   int
		gone   bool
	}{{"n\n", 1, false}, {"\n", 1, false}, {"yes\n", 0, true}} {
		master, slave, err := link.OpenPTY()
		if err != nil {
			t.Fatal(err)
		}
		master.Write([]byte(c.answer))
		code, out, errOut := tool(t, slave, "clear", "--tpm", spec)
		master.Close()
		slave.Close()
		if code != c.code || !strings.Contains(errOut, "remove them? [y/N]") || !strings.Contains(errOut, "0x8100a000  AES key") {
			t.Fatalf("clear answered %q: exit %d\n%s%s", c.answer, code, out, errOut)
		}
		code, out, _ = tool(t, nil, "status", "--tpm", spec)
		if gone := strings.Contains(out, "0x018a0000  policy key                    absent"); code != 0 || gone != c.gone {
			t.Fatalf("after clear answered %q, status:\n%s", c.answer, out)
		}
	}
}
