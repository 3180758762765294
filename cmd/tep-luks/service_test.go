package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// verifyUnit runs systemd-analyze verify on unit, its ExecStart= pointed
// at this test binary (verify wants an executable that exists).
func verifyUnit(t *testing.T, unit []byte) string {
	t.Helper()
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatalf("systemd-analyze (scripts/deps.sh installs systemd): %v", err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	unit = regexp.MustCompile(`(?m)^ExecStart=\S+`).ReplaceAll(unit, []byte("ExecStart="+self))
	path := filepath.Join(t.TempDir(), "tep-luks.service")
	if err := os.WriteFile(path, unit, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", path).CombinedOutput()
	if err != nil {
		return string(out) + "exit: " + err.Error()
	}
	return string(out)
}

// TestServiceUnit: dist/tep-luks.service passes systemd-analyze verify
// without a word, runs unlock (never setup, which formats), and the check
// catches a misspelt key.
func TestServiceUnit(t *testing.T) {
	unit, err := os.ReadFile("../../dist/tep-luks.service")
	if err != nil {
		t.Fatal(err)
	}
	if v := verifyUnit(t, unit); v != "" {
		t.Errorf("systemd-analyze verify:\n%s", v)
	}
	if !regexp.MustCompile(`(?m)^ExecStart=\S+/tep-luks unlock `).Match(unit) {
		t.Error("the unit does not run tep-luks unlock")
	}
	typo := bytes.Replace(unit, []byte("NoNewPrivileges=yes"), []byte("NoNewPrivilege=yes"), 1)
	if v := verifyUnit(t, typo); !strings.Contains(v, "NoNewPrivilege") {
		t.Errorf("verify of a unit with a misspelt key said %q", v)
	}
}
