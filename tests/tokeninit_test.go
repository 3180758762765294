package tests

import (
	"strings"
	"testing"
)

// TestGuestCannotMakeTokens: by default a guest sees only tepd init's token
// and cannot make one of its own. A token of its own would make it an SO
// who resets that token's PIN counts at will, while every wrong PIN spends
// the one dictionary-attack budget all tokens' PINs share: it could keep
// tepd refusing every PIN check on every token.
func TestGuestCannotMakeTokens(t *testing.T) {
	d := startTepd(t, "sim")
	out, err := d.tool("--list-slots")
	if err != nil {
		t.Fatalf("pkcs11-tool --list-slots: %v\n%s", err, out)
	}
	if !strings.Contains(out, "TEP Token") || strings.Contains(out, "uninitialized") || strings.Contains(out, "Slot 1 (0x2)") {
		t.Errorf("--list-slots: want only the token of slot 1, no free slot:\n%s", out)
	}
	out, err = d.tool("--slot", "2", "--init-token", "--label", "stranger", "--so-pin", "so-secret")
	if err == nil {
		t.Errorf("pkcs11-tool --slot 2 --init-token succeeded:\n%s", out)
	}
	out, err = d.tool("--list-slots")
	if err != nil || strings.Contains(out, "stranger") {
		t.Errorf("after a refused --init-token, --list-slots = %v:\n%s", err, out)
	}
}
