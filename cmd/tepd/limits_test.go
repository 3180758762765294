package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"tep.dev/tep/server"
)

func TestParseLimits(t *testing.T) {
	l, err := parseLimits(map[string]string{"sessions": "10", "silent": "5s", "bytes": "100"},
		[]string{"sessions=20", "handshake_rate=2.5", "assembly=1048576", "assembly_wait=5m"})
	want := server.Limits{Sessions: 20, Silent: 5 * time.Second, Bytes: 100, HandshakeRate: 2.5, Assembly: 1 << 20, AssemblyWait: 5 * time.Minute}
	if err != nil || l != want {
		t.Errorf("parseLimits = %+v, %v; want %+v (flags win)", l, err, want)
	}
	for _, bad := range []string{"sessions", "nosuch=1", "sessions=0", "sessions=-1", "bytes=x", "silent=10", "handshake_rate=0", "assembly_wait=0", "assembly_wait=5"} {
		if _, err := parseLimits(nil, []string{bad}); err == nil {
			t.Errorf("parseLimits(--limit %s) succeeded", bad)
		}
	}
}

func TestServeLimitsFromConfig(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "tepd.json")
	if err := os.WriteFile(cfgPath, []byte(`{"state":"s","tpm":"sim","pty":"p","limits":{"sessions_per_client":"7"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := parseServe([]string{"--config", cfgPath, "--limit", "objects=9"}, new(bytes.Buffer))
	if err != nil || cfg.limits.SessionsPerClient != 7 || cfg.limits.Objects != 9 {
		t.Errorf("parseServe = %+v, %v; want sessions_per_client 7 and objects 9", cfg.limits, err)
	}
	if _, err := parseServe([]string{"--state", "s", "--tpm", "sim", "--pty", "p", "--limit", "sessions=none"}, new(bytes.Buffer)); err == nil {
		t.Error("parseServe with a bad --limit succeeded")
	}
}
