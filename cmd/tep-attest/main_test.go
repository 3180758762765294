package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"tep.dev/tep/internal/cli"
)

// TestUsage: command lines that cannot run are usage errors (exit
// status 2), before any TPM or network is touched.
func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		nil, {"frobnicate"}, {"enroll"}, {"enroll", "--state", "s", "--tpm", "sim"},
		{"serve", "--frob"}, {"run", "--state", "s", "--tpm", "sim", "--interval", "10ms"},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, &out, &errOut)
		var ue *cli.UsageError
		if !errors.As(err, &ue) {
			t.Errorf("run(%q) = %v, want a usage error", args, err)
		}
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--help"}, &out, &out); err != nil || !strings.Contains(out.String(), "tep-attest enroll") {
		t.Errorf("--help = %v, %q", err, out.String())
	}
}
