package tests

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSecondTepdOnState: a second tepd serve, and a tepd init, on a state
// directory that a tepd serves exit at once naming its PID, and the
// module still reaches the first one through run/ttyS4 afterwards.
func TestSecondTepdOnState(t *testing.T) {
	d := startTepd(t, "sim")
	pid := strconv.Itoa(d.srv.Pid())
	for _, args := range [][]string{
		{"serve", "--state", d.state, "--tpm", d.tpm, "--pty", d.state + "/run", "--listen", "unix:" + d.socket()},
		{"init", "--state", d.state, "--tpm", d.tpm, "--so-pin", soPIN, "--user-pin", userPIN},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		out, err := exec.CommandContext(ctx, bin.tepd, args...).CombinedOutput()
		cancel()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Errorf("second tepd %s: %v, want exit status 1\n%s", args[0], err, out)
		}
		if !strings.Contains(string(out), "tepd process "+pid) {
			t.Errorf("second tepd %s said %q; want the first's PID %s", args[0], out, pid)
		}
	}
	cmd := d.clientCmd("once")
	out, err := withTimeout(cmd, 30*time.Second)
	if got := results(out); err != nil || got["Initialize"] != "0x0" || got["GetSlotList"] != "0x0" {
		t.Errorf("the module through %s after the refusals: %v\n%s", d.port, err, out)
	}
	if _, err := os.Lstat(d.port); err != nil {
		t.Errorf("the first tepd's link is gone: %v", err)
	}
}
