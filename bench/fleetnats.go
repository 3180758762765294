package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"tep.dev/tep/attest/api"
	"tep.dev/tep/attest/loadgen"
	"tep.dev/tep/attest/natsquote"
	"tep.dev/tep/internal/natsd"
)

// setupNATS starts the names of the fleet set-ups whose devices answer
// the verifier's pulls over NATS: one replica with --nats and
// --pull-interval the step's interval (serve's other defaults), and a
// nats-server with TLS on loopback; "nats" on SQLite (the push set-up
// it compares with is "sqlite"), "nats-postgres" on PostgreSQL.
const setupNATS = "nats"

// natsMaxPayload is the nats-server's max_payload: a device's first
// report carries its whole IMA log (0.8 MB at 5,000 entries, near the
// server's default 1 MiB; longer logs of FleetConfig.IMAEntries need
// more).
const natsMaxPayload = 8 << 20

// startNATS starts the nats-server of the "nats" set-up, with TLS under
// a certificate of its own that serve and the devices check, and
// keeps serve's NATS arguments; for another set-up it does nothing.
func (v *fleetVerifier) startNATS(dir, name string, interval time.Duration) error {
	if !strings.HasPrefix(name, setupNATS) {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	certPEM, keyPEM, err := api.SelfSigned("nats", []string{"127.0.0.1"}, time.Now())
	if err != nil {
		return err
	}
	v.natsCA = filepath.Join(dir, "nats-cert.pem")
	keyFile := filepath.Join(dir, "nats-key.pem")
	if err := os.WriteFile(v.natsCA, certPEM, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return err
	}
	v.nats, err = natsd.Start(natsd.Config{
		Log: filepath.Join(dir, "nats.log"), TLS: &natsd.TLS{CertFile: v.natsCA, KeyFile: keyFile}, MaxPayload: natsMaxPayload,
	})
	if err != nil {
		return err
	}
	v.serveArgs = []string{"--nats", v.nats.URL, "--nats-ca", v.natsCA, "--pull-interval", interval.String()}
	return nil
}

// natsConfig sets lc to NATS mode when the set-up has a nats-server.
func (v *fleetVerifier) natsConfig(lc *loadgen.Config) {
	if v.nats != nil {
		lc.NATS = natsquote.ConnConfig{URL: v.nats.URL, CAFile: v.natsCA}
	}
}

// natsCPU is the nats-server's user and system time so far, zero
// without one.
func (v *fleetVerifier) natsCPU() time.Duration {
	if v.nats == nil {
		return 0
	}
	return procCPU(v.nats.Pid(), false)
}

// natsSustained says whether a NATS step held: every device reported,
// nothing failed, every device attested within two intervals, and p99
// (the verifier's histogram) under the target. The rate is not judged:
// the verifier's schedule pulls a host an interval after its last
// report plus the time to claim and pull it, a little less often than
// once an interval.
func natsSustained(st FleetStep) bool {
	return st.Reported == st.Devices && st.Failed == 0 && st.Late == 0 && st.P99 < p99Target
}

// natsProgress is the extra of a NATS step's progress line.
func natsProgress(st FleetStep) string {
	if st.Mode != "nats" {
		return ""
	}
	return fmt.Sprintf(" [NATS: %d quotes, %d stored, %d devices late, longest gap %v, nats-server %.0f%% of the CPU]",
		st.Quotes, st.Attested, st.Late, st.MaxGap.Round(time.Millisecond), 100*st.NATSShare)
}
