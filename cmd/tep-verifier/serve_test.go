package main

import (
	"context"
	"errors"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"tep.dev/tep/attest/api"
	"tep.dev/tep/internal/cli"
)

// TestServeLimitFlags: the enrolment limits' flags have their defaults,
// take good values (0 turning a limit off), and refuse bad ones as
// usage errors, before serve opens anything.
func TestServeLimitFlags(t *testing.T) {
	base := []string{"--state", t.TempDir(), "--ek-ca", "ca.pem"}
	c, err := parseServe(base, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg := c.apiLimits(api.Config{})
	if cfg.EnrollRate != api.DefaultEnrollRate || cfg.EnrollBurst != api.DefaultEnrollBurst || cfg.RefusedRate != api.DefaultRefusedRate ||
		cfg.RefusedBurst != api.DefaultRefusedBurst || cfg.RefusedSources != api.DefaultRefusedSources {
		t.Errorf("default limits %+v", cfg)
	}
	c, err = parseServe(append(base, "--enroll-rate", "0", "--enroll-refused-rate", "2.5", "--enroll-refused-burst", "4", "--enroll-sources", "10"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := c.apiLimits(api.Config{}); !math.IsInf(cfg.EnrollRate, 1) || cfg.RefusedRate != 2.5 || cfg.RefusedBurst != 4 || cfg.RefusedSources != 10 {
		t.Errorf("limits %+v; want no global limit, 2.5/s burst 4 per address, 10 addresses", cfg)
	}
	for _, bad := range [][]string{
		{"--enroll-rate", "-1"},
		{"--enroll-rate", "NaN"},
		{"--enroll-rate", "+Inf"},
		{"--enroll-rate", "fast"},
		{"--enroll-burst", "0"},
		{"--enroll-refused-rate", "-0.5"},
		{"--enroll-refused-burst", "-3"},
		{"--enroll-sources", "0"},
		{"--enroll-burst", "1.5"},
	} {
		err := run(context.Background(), append(append([]string{"serve"}, base...), bad...), io.Discard, io.Discard)
		var ue *cli.UsageError
		if !errors.As(err, &ue) {
			t.Errorf("serve %s = %v, want a usage error", strings.Join(bad, " "), err)
		}
	}
}

// TestServeLimitFlagsExit: the built command exits 2 for a bad limit.
func TestServeLimitFlagsExit(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "tep-verifier")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	state := t.TempDir()
	cmd := exec.Command(bin, "serve", "--state", state, "--ek-ca", "ca.pem", "--enroll-burst", "0")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "--enroll-burst 0") {
		t.Errorf("serve --enroll-burst 0: %v, %q; want exit status 2 naming --enroll-burst", err, out)
	}
	if entries, _ := os.ReadDir(state); len(entries) != 0 {
		t.Errorf("serve made %d files in its state before refusing its flags", len(entries))
	}
}
