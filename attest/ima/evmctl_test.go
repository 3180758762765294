package ima_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"tep.dev/tep/attest/ima"
	"tep.dev/tep/attest/ima/imagen"
)

// TestEvmctl cross-checks generated logs and their PCR values with
// ima-evm-utils: evmctl ima_measurement replays a log itself and compares
// it with PCR values from a file (--pcrs ALGO,FILE; lines "PCR-NN: HEX"
// for PCRs 0 to 23 in order). evmctl 1.4 limits what it can check, so
// the test works within it: it replays only the sha1 and sha256 banks
// ("Unknown algorithm 'sha384'"), takes at most two --pcrs files ("too
// many --pcrfile options") and passes when any one bank matches, so each
// bank runs on its own; it refuses a list that mixes the "ima"
// template with others ("Mixed measurement list ... not supported"); so
// the test runs it on an ima-ng + ima-sig log and on an ima-only log,
// both with violations, in those two banks. Without --ignore-violations
// evmctl extends a violation as zeros, so that any violation fails its
// check; with it, evmctl extends 0xFF as the kernel does, which is the
// replay under test. The sha384 bank is checked
// against swtpm instead (TestSWTPM).
func TestEvmctl(t *testing.T) {
	evmctl, err := exec.LookPath("evmctl")
	if err != nil {
		t.Fatal("evmctl not found (scripts/deps.sh installs ima-evm-utils)")
	}
	for _, templates := range [][]string{{ima.TemplateIMANG, ima.TemplateIMASig}, {ima.TemplateIMA}} {
		t.Run(strings.Join(templates, "+"), func(t *testing.T) {
			g, err := imagen.New(imagen.Config{Templates: templates, ViolationEvery: 13, Seed: 3})
			if err != nil {
				t.Fatal(err)
			}
			g.Append(60)
			dir := t.TempDir()
			logFile := filepath.Join(dir, "binary_runtime_measurements")
			if err := os.WriteFile(logFile, g.Log(), 0o600); err != nil {
				t.Fatal(err)
			}
			// evmctl succeeds when any one bank it reads matches, so
			// each bank is checked on its own.
			for _, bank := range []string{"sha1", "sha256"} {
				out, err := runEvmctl(t, evmctl, dir, logFile, bank, g.PCR10(bank))
				t.Logf("evmctl, %s bank: %s", bank, lastLines(out, 1))
				if err != nil {
					t.Fatalf("evmctl ima_measurement on the generated log and its %s PCR 10: %v\n%s", bank, err, lastLines(out, 5))
				}
				wrong := g.PCR10(bank)
				wrong[0] ^= 1
				if out, err := runEvmctl(t, evmctl, dir, logFile, bank, wrong); err == nil {
					t.Errorf("evmctl accepted a wrong %s PCR 10: %s", bank, lastLines(out, 3))
				}
			}
		})
	}
}

func runEvmctl(t *testing.T, evmctl, dir, logFile, bank string, pcr10 []byte) (string, error) {
	t.Helper()
	f := filepath.Join(dir, bank+".pcrs")
	var sb strings.Builder
	for i := range 24 {
		v := make([]byte, len(pcr10))
		if i == 10 {
			v = pcr10
		}
		fmt.Fprintf(&sb, "PCR-%02d: %X\n", i, v)
	}
	if err := os.WriteFile(f, []byte(sb.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(evmctl, "ima_measurement", "--ignore-violations", "--pcrs", bank+","+f, logFile).CombinedOutput()
	return string(out), err
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
