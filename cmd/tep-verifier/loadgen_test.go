package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"testing"

	"tep.dev/tep/internal/cli"
)

// TestLoadgenNATSUsage: NATS options without --nats, and --nats without
// the operator's token, are usage errors (exit status 2) that name what
// is wrong; --help lists the NATS options.
func TestLoadgenNATSUsage(t *testing.T) {
	base := []string{"loadgen", "--devices", "2", "--verifier", "https://127.0.0.1:1", "--ca", "ca.pem", "--ek-ca-dir", "ekca"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--token", "t", "--nats-ca", "nats-ca.pem"}, "--nats-ca without --nats"},
		{[]string{"--token", "t", "--nats-user", "u", "--keep-hosts"}, "--keep-hosts, --nats-user without --nats"},
		{[]string{"--enroll-tokens", "tokens", "--nats", "nats://127.0.0.1:4222"}, "--token is required"},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append(base, tc.args...), &out, &errOut)
		var ue *cli.UsageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("loadgen %q = %v, want a usage error saying %q", tc.args, err, tc.want)
		}
	}
	var out bytes.Buffer
	err := run(context.Background(), []string{"loadgen", "--help"}, &out, &out)
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(out.String(), "-nats-ca") || !strings.Contains(out.String(), "-keep-hosts") {
		t.Errorf("loadgen --help = %v, %q; want the NATS options", err, out.String())
	}
}
