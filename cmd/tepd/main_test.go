package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"tep.dev/tep/channel"
)

func TestInit(t *testing.T) {
	state := t.TempDir()
	var out, errOut bytes.Buffer
	args := []string{"init", "--state", state, "--tpm", "sim", "--label", "t", "--so-pin", "87654321", "--user-pin", "1234"}
	if err := run(context.Background(), args, &out, &errOut); err != nil {
		t.Fatalf("init: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "slot 1") || !strings.Contains(out.String(), "3 wrong PINs in a row lock a PIN") {
		t.Errorf("init said %q", out.String())
	}
	if err := run(context.Background(), args, &out, &errOut); err == nil || !strings.Contains(err.Error(), "already holds") {
		t.Errorf("second init on the same state: %v, want a refusal", err)
	}
}

// TestKey: init prints the channel key and how to pin it, stores it
// sealed in a file only the owner reads, and tepd key prints it again.
func TestKey(t *testing.T) {
	state := t.TempDir()
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"key", "--state", state, "--tpm", "sim"}, &out, &errOut); err == nil {
		t.Error("tepd key on a state directory without a key succeeded")
	}
	args := []string{"init", "--state", state, "--tpm", "sim", "--label", "t", "--so-pin", "87654321", "--user-pin", "1234"}
	if err := run(context.Background(), args, &out, &errOut); err != nil {
		t.Fatalf("init: %v\n%s", err, errOut.String())
	}
	_, pin, ok := strings.Cut(out.String(), "TEP_SERVER_KEY=")
	if !ok {
		t.Fatalf("init did not say how to pin the key: %q", out.String())
	}
	pub, err := channel.ParsePublicKey(strings.TrimSpace(pin))
	if err != nil {
		t.Fatalf("init printed TEP_SERVER_KEY=%s: %v", pin, err)
	}
	fi, err := os.Stat(filepath.Join(state, keyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v; want 0600", err, fi.Mode())
	}
	out.Reset()
	if err := run(context.Background(), []string{"key", "--state", state, "--tpm", "sim"}, &out, &errOut); err != nil || !strings.Contains(out.String(), "TEP_SERVER_KEY="+pub.String()) {
		t.Errorf("tepd key = %q, %v; want TEP_SERVER_KEY=%s", out.String(), err, pub)
	}
	out.Reset()
	var js struct {
		PublicKey   string `json:"public_key"`
		Fingerprint string `json:"fingerprint"`
	}
	if err := run(context.Background(), []string{"key", "--state", state, "--tpm", "sim", "--json"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out.Bytes(), &js); err != nil || js.PublicKey != pub.String() || js.Fingerprint != pub.Fingerprint() {
		t.Errorf("tepd key --json = %s (%v), want key %s", out.String(), err, pub)
	}
	// While tepd holds the state, key prints the key its file names and
	// says so.
	b, err := openBackends(state, "sim")
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errOut.Reset()
	err = run(context.Background(), []string{"key", "--state", state, "--tpm", "sim"}, &out, &errOut)
	b.Close()
	if err != nil || !strings.Contains(out.String(), "TEP_SERVER_KEY="+pub.String()) || !strings.Contains(errOut.String(), "tepd is running") {
		t.Errorf("tepd key on a held state = %q, %q, %v; want the key and a note", out.String(), errOut.String(), err)
	}
	// A key file whose sealed blob does not unseal is an error, not a
	// new key.
	kf, _ := os.ReadFile(filepath.Join(state, keyFile))
	bad := strings.Replace(string(kf), `"sealed_private": "`, `"sealed_private": "AAAA`, 1)
	os.WriteFile(filepath.Join(state, keyFile), []byte(bad), 0o600)
	if err := run(context.Background(), []string{"key", "--state", state, "--tpm", "sim"}, &out, &errOut); err == nil {
		t.Error("tepd key with a damaged key file succeeded")
	}
}

func TestUsageErrors(t *testing.T) {
	state := t.TempDir()
	for _, args := range [][]string{
		nil,
		{"frobnicate"},
		{"init", "--state", state},
		{"init", "--state", state, "--tpm", "sim", "--so-pin", "87654321", "--user-pin", "1234", "--label", strings.Repeat("x", 33)},
		{"init", "--state", state, "--tpm", "nonsense", "--so-pin", "87654321", "--user-pin", "1234"},
		{"init", "--state", state, "--tpm", "sim", "--so-pin", "87654321", "--user-pin", "1234", "--pin-tries", "0"},
		{"init", "--state", state, "--tpm", "sim", "--so-pin", "87654321", "--user-pin", "1234", "--pin-tries", "101"},
		{"unlock-so"},
		{"unlock-so", "--state", filepath.Join(state, "none")},
		{"serve", "--state", state},
		{"serve", "--state", state, "--tpm", "sim"},
		{"serve", "--state", state, "--tpm", "sim", "--listen", "tcp:1.2.3.4:5"},
	} {
		var out bytes.Buffer
		if err := run(context.Background(), args, &out, &out); err == nil {
			t.Errorf("run(%q) succeeded, want an error", args)
		}
	}
}

func TestConfigFileAndFlags(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "tepd.json")
	os.WriteFile(cfgPath, []byte(`{"state": "/from/file", "tpm": "sim", "ports": ["/dev/ttyS1"], "baud": 9600, "lease": "5m"}`), 0o600)
	var errOut bytes.Buffer
	cfg, err := parseServe([]string{"--config", cfgPath, "--state", "/from/flag", "--pty", dir}, &errOut)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.State != "/from/flag" || cfg.TPM != "sim" || cfg.PTY != dir || cfg.Baud != 9600 || cfg.Lease != "5m" ||
		!slices.Equal(cfg.Ports, []string{"/dev/ttyS1"}) {
		t.Errorf("parseServe = %+v: flags must win, the file fill the rest", cfg)
	}
	if cfg.Spin != defaultSpin {
		t.Errorf("spin = %q, want the default %q", cfg.Spin, defaultSpin)
	}
	os.WriteFile(cfgPath, []byte(`{"state": "x", "tmp": "typo"}`), 0o600)
	if _, err := parseServe([]string{"--config", cfgPath}, &errOut); err == nil {
		t.Error("a config file with an unknown key was accepted")
	}
	for _, spin := range []string{"-1ms", "fast", ""} {
		if _, err := parseServe([]string{"--state", "s", "--tpm", "sim", "--pty", dir, "--spin", spin}, &errOut); err == nil {
			t.Errorf("--spin %q was accepted", spin)
		}
	}
	if cfg, err := parseServe([]string{"--state", "s", "--tpm", "sim", "--pty", dir, "--spin", "0"}, &errOut); err != nil || cfg.Spin != "0" {
		t.Errorf("--spin 0: %+v, %v; want it taken", cfg, err)
	}
}

// TestServeStopsOnCancel: tepd serves its ptys and shuts down cleanly when
// its context ends, as on SIGTERM, leaving the CPU profile it was asked for.
func TestServeStopsOnCancel(t *testing.T) {
	state := t.TempDir()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"init", "--state", state, "--tpm", "sim", "--so-pin", "87654321", "--user-pin", "1234"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	args := []string{"serve", "--state", state, "--tpm", "sim", "--pty", filepath.Join(state, "run"), "--listen", "unix:" + filepath.Join(state, "tep.sock"),
		"--cpuprofile", filepath.Join(state, "cpu.prof")}
	go func() { done <- run(ctx, args, &out, &out) }()
	for i := 0; i < 400; i++ {
		if _, err := os.Lstat(filepath.Join(state, "run", "ttyS9")); err == nil {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended early: %v\n%s", err, out.String())
		default:
		}
		if i == 399 {
			t.Fatal("serve did not create its ports")
		}
		time.Sleep(25 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve after cancel: %v\n%s", err, out.String())
	}
	if _, err := os.Lstat(filepath.Join(state, "run", "ttyS4")); err == nil {
		t.Error("serve left its pty symlinks behind")
	}
	// pprof's format is a gzipped protocol buffer.
	if prof, err := os.ReadFile(filepath.Join(state, "cpu.prof")); err != nil || !bytes.HasPrefix(prof, []byte{0x1f, 0x8b}) {
		t.Errorf("CPU profile: %d bytes, %v; want a gzipped pprof profile", len(prof), err)
	}
}
