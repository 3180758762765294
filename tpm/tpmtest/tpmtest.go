package tpmtest

import (
	"testing"

	"tep.dev/tep/internal/swtpm"
)

// StartSWTPM starts a TPM 2.0 swtpm for the test on free loopback TCP
// ports (the tests' backend in DESIGN) with a fresh state directory,
// already initialised and started, and returns its spec for tpm.Open
// ("swtpm:127.0.0.1:PORT"). swtpm is stopped when the test ends. The test
// fails if swtpm is not installed or does not come up.
func StartSWTPM(t testing.TB) string {
	t.Helper()
	return Start(t, swtpm.Config{TCP: true})
}

// Start starts swtpm as cfg says, in a temporary state directory of the
// test's when cfg.State is empty, stops it when the test ends, and returns
// its spec. The test fails if swtpm does not come up.
func Start(t testing.TB, cfg swtpm.Config) string {
	t.Helper()
	if cfg.State == "" {
		cfg.State = t.TempDir()
	}
	p, err := swtpm.Start(cfg)
	if err != nil {
		t.Fatalf("starting swtpm (is it installed? scripts/deps.sh installs it): %v", err)
	}
	t.Cleanup(p.Stop)
	return p.Spec
}
