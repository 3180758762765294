package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// maxExposure is the highest `systemd-analyze security` exposure level
// that dist/tepd.service may have (0 best, 10 worst). The unit scores 0.5
// ("SAFE") with systemd 252. What is left open is what tepd needs or what
// could not be tried here, where systemd is not PID 1: the TPM and port
// devices (no PrivateDevices=), AF_UNIX, the host's root, and no
// PrivateUsers= (tepd reaches the TPM and the ports through its
// supplementary groups, which a user namespace maps to nobody).
const maxExposure = 1.0

// installService runs `make install-service` into a fresh DESTDIR with
// PREFIX=/usr and returns DESTDIR.
func installService(t *testing.T) string {
	t.Helper()
	dest := t.TempDir()
	out, err := exec.Command("make", "-s", "-C", "../..", "install-service", "DESTDIR="+dest, "PREFIX=/usr", "SYSCONFDIR=/etc").CombinedOutput()
	if err != nil {
		t.Fatalf("make install-service: %v\n%s", err, out)
	}
	return dest
}

func systemdTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is missing (Debian package systemd): run scripts/deps.sh", name)
	}
	return p
}

// TestServiceInstall: make install-service puts the unit, the sysusers and
// tmpfiles entries and the example configuration where systemd finds them,
// the unit runs the installed tepd on the installed configuration, the
// configuration is one tepd serve takes, and a second install keeps an
// edited configuration.
func TestServiceInstall(t *testing.T) {
	dest := installService(t)
	var got []string
	filepath.WalkDir(dest, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			got = append(got, strings.TrimPrefix(path, dest))
		}
		return nil
	})
	want := []string{"/etc/tep/tepd.json", "/usr/lib/systemd/system/tepd.service", "/usr/lib/sysusers.d/tep.conf", "/usr/lib/tmpfiles.d/tep.conf"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("installed %q, want %q", got, want)
	}
	unit, err := os.ReadFile(filepath.Join(dest, "usr/lib/systemd/system/tepd.service"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(unit, []byte("\nExecStart=/usr/bin/tepd serve --config /etc/tep/tepd.json\n")) {
		t.Errorf("installed unit's ExecStart does not run /usr/bin/tepd on /etc/tep/tepd.json:\n%s", unit)
	}
	cfgPath := filepath.Join(dest, "etc/tep/tepd.json")
	cfg, err := parseServe([]string{"--config", cfgPath}, new(bytes.Buffer))
	if err != nil {
		t.Fatalf("the example configuration: %v", err)
	}
	// StateDirectory=tep is the one place the sandbox lets tepd write.
	if cfg.State != "/var/lib/tep" || cfg.PTY != "" {
		t.Errorf("example configuration: state %q, pty %q; want /var/lib/tep and no ptys", cfg.State, cfg.PTY)
	}
	os.WriteFile(cfgPath, []byte(`{"state": "/var/lib/tep", "tpm": "sim", "listen": ["unix:/run/tep/tep.sock"]}`), 0o644)
	if out, err := exec.Command("make", "-s", "-C", "../..", "install-service", "DESTDIR="+dest, "PREFIX=/usr").CombinedOutput(); err != nil {
		t.Fatalf("second make install-service: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(cfgPath); !bytes.Contains(b, []byte(`"sim"`)) {
		t.Error("a second install overwrote the configuration")
	}
}

// TestServiceUsers: systemd-sysusers and systemd-tmpfiles, run on the
// installed tree, make the tep user in the TPM's and the ports' groups and
// its private state directory. They chown, so this needs root.
func TestServiceUsers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("systemd-tmpfiles --root chowns: needs root")
	}
	dest := installService(t)
	for _, args := range [][]string{{"systemd-sysusers", "--root=" + dest}, {"systemd-tmpfiles", "--root=" + dest, "--create"}} {
		if out, err := exec.Command(systemdTool(t, args[0]), args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	passwd, _ := os.ReadFile(filepath.Join(dest, "etc/passwd"))
	m := regexp.MustCompile(`(?m)^tep:x:(\d+):\d+:[^:]*:/var/lib/tep:`).FindSubmatch(passwd)
	if m == nil {
		t.Fatalf("no tep user with home /var/lib/tep in\n%s", passwd)
	}
	group, _ := os.ReadFile(filepath.Join(dest, "etc/group"))
	for _, g := range []string{"tss", "dialout"} {
		if !regexp.MustCompile(`(?m)^` + g + `:x:\d+:(.*,)?tep(,|$)`).Match(group) {
			t.Errorf("tep is not in group %s:\n%s", g, group)
		}
	}
	fi, err := os.Stat(filepath.Join(dest, "var/lib/tep"))
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(string(m[1]))
	if owner := fi.Sys().(*syscall.Stat_t).Uid; fi.Mode().Perm() != 0o700 || owner != uint32(uid) {
		t.Errorf("state directory: mode %v, owner %d; want 0700 and tep (%d)", fi.Mode().Perm(), owner, uid)
	}
}

// analyze runs systemd-analyze verify and security on a copy of unit
// whose ExecStart= runs an executable that is there (verify insists on
// it): this test binary. It returns verify's output and the exposure line.
func analyze(t *testing.T, unit []byte) (verify string, exposure float64, level string) {
	t.Helper()
	sa := systemdTool(t, "systemd-analyze")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	unit = regexp.MustCompile(`(?m)^ExecStart=\S+`).ReplaceAll(unit, []byte("ExecStart="+self))
	path := filepath.Join(t.TempDir(), "tepd.service")
	if err := os.WriteFile(path, unit, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", path).CombinedOutput()
	verify = string(out)
	if err != nil {
		verify += "exit: " + err.Error()
	}
	out, err = exec.Command(sa, "security", "--offline=true", "--no-pager", path).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for tepd\.service: ([0-9.]+) (\w+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in systemd-analyze security's output:\n%s", out)
	}
	exposure, err = strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return verify, exposure, string(m[2])
}

// TestServiceSandbox: the installed unit passes systemd-analyze verify
// without a word, and its exposure level is at most maxExposure.
func TestServiceSandbox(t *testing.T) {
	dest := installService(t)
	unit, err := os.ReadFile(filepath.Join(dest, "usr/lib/systemd/system/tepd.service"))
	if err != nil {
		t.Fatal(err)
	}
	verify, exposure, level := analyze(t, unit)
	if verify != "" {
		t.Errorf("systemd-analyze verify:\n%s", verify)
	}
	t.Logf("systemd-analyze security: exposure %.1f %s (at most %.1f)", exposure, level, maxExposure)
	if exposure > maxExposure {
		t.Errorf("exposure level %.1f %s, want at most %.1f", exposure, level, maxExposure)
	}
}

// TestServiceAnalyzeCatches: the checks above can fail. A misspelt
// setting makes verify speak, and a unit without the sandbox scores high.
func TestServiceAnalyzeCatches(t *testing.T) {
	unit, err := os.ReadFile("../../dist/tepd.service")
	if err != nil {
		t.Fatal(err)
	}
	typo := bytes.Replace(unit, []byte("ProtectHome=yes"), []byte("ProtectHom=yes"), 1)
	if verify, _, _ := analyze(t, typo); !strings.Contains(verify, "ProtectHom") {
		t.Errorf("verify of a unit with a misspelt key said %q", verify)
	}
	bare := "[Service]\nExecStart=/bin/true\n"
	if _, exposure, level := analyze(t, []byte(bare)); exposure <= maxExposure {
		t.Errorf("a unit without a sandbox scored %.1f %s, want above %.1f", exposure, level, maxExposure)
	}
}
