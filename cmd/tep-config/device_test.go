package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"tep.dev/tep/link"
	"tep.dev/tep/provisioning"
	"tep.dev/tep/provisioning/config"
	"tep.dev/tep/provisioning/device"
	"tep.dev/tep/provisioning/signer"
	"tep.dev/tep/tpm"
	"tep.dev/tep/tpm/tpmtest"
)

// tpm2 runs a tpm2-tools command against the swtpm at spec.
func tpm2(t *testing.T, spec string, args ...string) string {
	t.Helper()
	hostPort := strings.TrimPrefix(spec, "swtpm:")
	i := strings.LastIndex(hostPort, ":")
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "TPM2TOOLS_TCTI=swtpm:host="+hostPort[:i]+",port="+hostPort[i+1:])
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestDevice: on an swtpm provisioned as tep-provision does it (the
// policy key in NV, a device ECDH key), the command seals an ecdh blob for the device
// key read back with tpm2_readpublic, applies it, a second epoch, rolls
// back, refuses a replay, and reports status, all with --json.
func TestDevice(t *testing.T) {
	spec := tpmtest.StartSWTPM(t)
	dir := t.TempDir()
	key := filepath.Join(dir, "policy.pem")
	if out, err := exec.Command("openssl", "ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out", key).CombinedOutput(); err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	devPub := filepath.Join(dir, "device.pub")
	provision(t, spec, key)
	tpm2(t, spec, "tpm2_readpublic", "-c", "0x8100A002", "-f", "pem", "-o", devPub)

	blobPath := filepath.Join(dir, "upload", "tep_user_config_data.bin")
	os.MkdirAll(filepath.Dir(blobPath), 0o755)
	dest := filepath.Join(dir, "opt", "tep-config")
	conf := filepath.Join(dir, "conf")
	dev := []string{"--blob", blobPath, "--dest", dest, "--settings", filepath.Join(dir, "none.yaml"), "--json"}
	apply := func(content string, epoch string) (config.Result, error) {
		os.MkdirAll(conf, 0o755)
		os.WriteFile(filepath.Join(conf, "app.conf"), []byte(content), 0o644)
		if out, err := runCmd(t, "seal", "--in", conf, "--sign-key", key, "--to", devPub, "--epoch", epoch, "-o", blobPath); err != nil {
			t.Fatalf("seal: %v\n%s", err, out)
		}
		var out, errOut strings.Builder
		err := run(append([]string{"apply", "--tpm", spec}, dev...), nil, &out, &errOut)
		var r config.Result
		if jerr := json.Unmarshal([]byte(out.String()), &r); jerr != nil {
			t.Fatalf("apply --json printed %q: %v (%v)", out.String(), jerr, err)
		}
		return r, err
	}
	check := func(want string) {
		t.Helper()
		if got, _ := os.ReadFile(filepath.Join(dest, "app.conf")); string(got) != want {
			t.Errorf("app.conf = %q, want %q", got, want)
		}
	}
	// provision started the counter at 1, as tep-provision device does.
	if r, err := apply("one", "2"); err != nil || r.Status != "applied" || r.Epoch != 2 || r.Mode != "ecdh" {
		t.Fatalf("apply epoch 2 = %+v, %v", r, err)
	}
	check("one")
	if r, err := apply("two", "3"); err != nil || r.Status != "applied" {
		t.Fatalf("apply epoch 3 = %+v, %v", r, err)
	}
	check("two")
	r, err := apply("replayed", "3")
	if err == nil || r.Status != "rejected" || r.Step != config.StepEpoch || !strings.Contains(err.Error(), "rejected/") {
		t.Fatalf("replayed epoch 3 = %+v, %v; want rejected at the rollback guard, naming rejected/", r, err)
	}
	check("two")
	if out, err := runCmd(t, append([]string{"rollback"}, dev[2:]...)...); err != nil {
		t.Fatalf("rollback: %v\n%s", err, out)
	}
	check("one")
	out, err := runCmd(t, "status", "--tpm", spec, "--dest", dest, "--blob", blobPath, "--json")
	var s config.Status
	if err != nil || json.Unmarshal([]byte(out), &s) != nil || s.Epoch != 3 || s.PolicyKey == "" || !s.HasPrevious {
		t.Errorf("status = %q, %v; want epoch 3, the policy key, a previous configuration", out, err)
	}
	if got := tpm2(t, spec, "tpm2_nvread", "0x018A0001", "-C", "o", "-s", "8"); got != "\x00\x00\x00\x00\x00\x00\x00\x03" {
		t.Errorf("tpm2_nvread of the epoch counter = %x, want 3", got)
	}
}

// provision writes the policy key of the PEM file key and makes a P-384
// device key, through package device as tep-provision does.
func provision(t *testing.T, spec, key string) {
	t.Helper()
	s, closer, err := signer.Load(key)
	if err != nil {
		t.Fatal(err)
	}
	closer.Close()
	tp, err := tpm.Open(spec, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	if _, err := device.WritePolicyKey(tp, s.Public().(*ecdsa.PublicKey), false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := device.CreateDeviceKey(tp, elliptic.P384(), false); err != nil {
		t.Fatal(err)
	}
	if _, err := device.ImportAESKey(tp, testAESKey, false); err != nil {
		t.Fatal(err)
	}
	if v, err := device.EnsureCounter(tp, provisioning.ConfigEpochIndex); err != nil || v != 1 {
		t.Fatalf("starting the epoch counter = %d, %v; want 1 on a fresh TPM", v, err)
	}
}

// testAESKey is the AES key provision imports.
var testAESKey = bytes.Repeat([]byte{0x5a}, 32)

// TestProgress: apply reports decryption progress on stderr when stderr
// is a terminal (a pty here), and says nothing there otherwise.
func TestProgress(t *testing.T) {
	spec := tpmtest.StartSWTPM(t)
	dir := t.TempDir()
	key := filepath.Join(dir, "policy.pem")
	if out, err := exec.Command("openssl", "ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out", key).CombinedOutput(); err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	provision(t, spec, key)
	aes := filepath.Join(dir, "aes.key")
	os.WriteFile(aes, testAESKey, 0o600)
	conf := filepath.Join(dir, "conf")
	os.MkdirAll(conf, 0o755)
	big := make([]byte, 3<<20)
	rand.Read(big)
	os.WriteFile(filepath.Join(conf, "big"), big, 0o644)
	blobPath := filepath.Join(dir, "upload", "b.bin")
	os.MkdirAll(filepath.Dir(blobPath), 0o755)
	for i, onTTY := range []bool{false, true} {
		if out, err := runCmd(t, "seal", "--in", conf, "--sign-key", key, "--aes-key", aes, "--epoch", strconv.Itoa(i+2), "-o", blobPath); err != nil {
			t.Fatalf("seal: %v\n%s", err, out)
		}
		master, slave, err := link.OpenPTY()
		if err != nil {
			t.Fatal(err)
		}
		stderr := slave
		if !onTTY {
			stderr, _ = os.Create(filepath.Join(dir, "stderr"))
		}
		err = run([]string{"apply", "--tpm", spec, "--blob", blobPath, "--dest", filepath.Join(dir, "dest"), "--settings", filepath.Join(dir, "none")}, nil, io.Discard, stderr)
		stderr.Close()
		if err != nil {
			t.Fatalf("apply: %v", err)
		}
		var got []byte
		if onTTY {
			master.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 4096)
			n, _ := master.Read(buf)
			got = buf[:n]
		} else {
			got, _ = os.ReadFile(filepath.Join(dir, "stderr"))
		}
		master.Close()
		if has := strings.Contains(string(got), "decrypting: 3/3 MiB"); has != onTTY {
			t.Errorf("stderr a terminal: %v; progress %q, want progress: %v", onTTY, got, onTTY)
		}
	}
}
