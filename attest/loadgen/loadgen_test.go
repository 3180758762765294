package loadgen

import (
	"context"
	"strings"
	"testing"
	"time"

	"tep.dev/tep/attest/simdevice"
)

// TestConfigErrors: a config that cannot run is refused before any
// device is made.
func TestConfigErrors(t *testing.T) {
	ca, err := simdevice.NewCA(nil)
	if err != nil {
		t.Fatal(err)
	}
	good := Config{Devices: 2, Verifiers: []string{"https://127.0.0.1:1"}, VerifierCert: []byte("x"), CA: ca, AdminToken: "t"}
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"no devices", func(c *Config) { c.Devices = 0 }, "0 devices"},
		{"negative interval", func(c *Config) { c.Interval = -time.Second }, "negative"},
		{"no verifier", func(c *Config) { c.Verifiers = nil }, "URL and certificate"},
		{"no CA", func(c *Config) { c.CA = nil }, "EK CA"},
		{"too few tokens", func(c *Config) { c.AdminToken, c.EnrollTokens = "", []string{"a"} }, "2 enrolment tokens (have 1)"},
		{"NATS without an operator's token", func(c *Config) {
			c.AdminToken, c.EnrollTokens, c.NATS.URL = "", []string{"a", "b"}, "nats://127.0.0.1:1"
		}, "operator's token"},
		{"NATS user without a password", func(c *Config) { c.NATS.URL, c.NATS.User = "nats://127.0.0.1:1", "u" }, "configuration"},
		{"bad certificate", func(c *Config) {}, "verifier certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.change(&cfg)
			res, err := Run(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Run = %+v, %v; want an error saying %q", res, err, tc.want)
			}
		})
	}
}

func TestPercentiles(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i))
	}
	p50, p95, p99, most := percentiles(ds)
	if p50 != 50 || p95 != 95 || p99 != 99 || most != 100 {
		t.Errorf("percentiles(1..100) = %d %d %d %d, want 50 95 99 100", p50, p95, p99, most)
	}
	if p50, _, p99, most := percentiles([]time.Duration{7}); p50 != 7 || p99 != 7 || most != 7 {
		t.Errorf("percentiles([7]) = %d %d %d", p50, p99, most)
	}
	if _, _, _, most := percentiles(nil); most != 0 {
		t.Errorf("percentiles(nil) max = %d", most)
	}
}
