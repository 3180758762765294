package bootlog_test

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"tep.dev/tep/attest/bootlog/bootlogtest"
)

// TestTPM2Eventlog cross-checks the test logs with another parser:
// tpm2-tools' tpm2_eventlog reads the sample boot's log (checking the
// Spec ID event and the UEFI structures of its events) and computes the
// PCRs, which must equal bootlogtest's.
func TestTPM2Eventlog(t *testing.T) {
	tool, err := exec.LookPath("tpm2_eventlog")
	if err != nil {
		t.Fatal("tpm2_eventlog not found (scripts/deps.sh installs tpm2-tools)")
	}
	ev := bootlogtest.Sample("1.0")
	f := filepath.Join(t.TempDir(), "binary_bios_measurements")
	if err := os.WriteFile(f, build(t, ev), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, f).CombinedOutput()
	if err != nil {
		t.Fatalf("tpm2_eventlog: %v\n%s", err, out)
	}
	got := toolPCRs(t, out)
	for _, b := range banks {
		want := bootlogtest.PCRs(b, ev)
		for i := range 8 {
			if !bytes.Equal(got[b][i], want[i]) {
				t.Errorf("tpm2_eventlog PCR %d (%s) = %x, bootlogtest says %x", i, b, got[b][i], want[i])
			}
		}
	}
}

// toolPCRs reads tpm2_eventlog's closing "pcrs:" section: a line per
// bank ("  sha256:") and per PCR ("    0  : 0xHEX").
func toolPCRs(t *testing.T, out []byte) map[string]map[int][]byte {
	t.Helper()
	got := map[string]map[int][]byte{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	in, bank := false, ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "pcrs:":
			in = true
		case !in:
		case strings.HasPrefix(line, "  ") && !strings.HasPrefix(line, "    ") && strings.HasSuffix(line, ":"):
			bank = strings.TrimSuffix(strings.TrimSpace(line), ":")
			got[bank] = map[int][]byte{}
		case bank != "":
			idx, val, ok := strings.Cut(line, ":")
			i, err := strconv.Atoi(strings.TrimSpace(idx))
			v, err2 := hex.DecodeString(strings.TrimPrefix(strings.TrimSpace(val), "0x"))
			if !ok || err != nil || err2 != nil {
				t.Fatalf("tpm2_eventlog line %q", line)
			}
			got[bank][i] = v
		}
	}
	if len(got) == 0 {
		t.Fatalf("no pcrs section in tpm2_eventlog's output:\n%s", out)
	}
	return got
}
