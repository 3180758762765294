package e2e

import (
	"context"
	"encoding/json"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/api"
	"tep.dev/tep/attest/loadgen"
	"tep.dev/tep/attest/natsquote"
	"tep.dev/tep/attest/simdevice"
)

// TestLoadgenNATS runs the load generator in NATS mode against a real
// tep-verifier serve --nats whose schedule pulls every second, over a
// nats-server with TLS and credentials: every device is enrolled in
// NATS mode and attested, each report stored is the verifier's verdict
// on real evidence (untrusted only for want of flavors: no quote or IMA
// fault), the counts agree with the verifier's, and a device that
// enrolled but never answers is stale with no report, not untrusted. A
// second run without KeepHosts leaves none of its hosts behind.
func TestLoadgenNATS(t *testing.T) {
	dir := t.TempDir()
	ca, err := simdevice.NewCA(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Write(dir); err != nil {
		t.Fatal(err)
	}
	bus := newNATSBus(t)
	v := launchVerifier(t, dir, []string{filepath.Join(dir, simdevice.CACertFile)}, nil,
		"--pull-interval", "1s", "--pull-timeout", "5s", "--nats", bus.srv.URL, "--nats-ca", bus.caFile,
		"--nats-user", "verifier", "--nats-password-file", bus.pwFile)
	admin := v.client(t, v.admin)
	ctx := context.Background()
	silent := enrolSilent(t, ctx, ca, admin, v)

	cfg := loadgen.Config{
		Devices: 20, HostPrefix: "nl-", Verifiers: []string{v.url}, VerifierCert: v.certPEM, AdminToken: v.admin, CA: ca,
		Interval: time.Second, IMAEntries: 200, IMAStep: 10, Duration: 5 * time.Second, KeepHosts: true,
		NATS: natsquote.ConnConfig{URL: bus.srv.URL, CAFile: bus.caFile, NKeySeed: bus.agentSeed},
	}
	// Devices whose EKs another CA certified are refused at enrolment:
	// the run stops with the verifier's reason.
	stranger, err := simdevice.NewCA(nil)
	if err != nil {
		t.Fatal(err)
	}
	bad := cfg
	bad.CA, bad.HostPrefix, bad.KeepHosts = stranger, "stranger-", false
	if res, err := loadgen.Run(ctx, bad); err == nil || !strings.Contains(err.Error(), "EKCertificateUntrusted") {
		t.Errorf("loadgen over NATS with an untrusted EK CA = %+v, %v; want EKCertificateUntrusted", res, err)
	}

	res, err := loadgen.Run(ctx, cfg)
	if err != nil {
		t.Fatalf("loadgen.Run over NATS: %v (%+v)", err, res)
	}
	t.Logf("NATS run: %+v", res)
	if res.Mode != "nats" || res.Enrolled != 20 || res.Reported != 20 || res.Failed != 0 || len(res.Errors) != 0 {
		t.Errorf("loadgen over NATS = %+v; want 20 devices enrolled and reported, nothing failed", res)
	}
	if res.Attested < 1 || res.Quotes < 1 || res.Trusted > res.Attested || res.P99 < res.P50 || res.P50 <= 0 || res.Max < res.P99 {
		t.Errorf("loadgen over NATS = %+v; want reports, quotes and ordered latencies", res)
	}

	// Every device's reports are stored, none of them with a fault of
	// the evidence itself; the silent device has none.
	var rs []api.Report
	if err := admin.Do(ctx, "GET", "/v1/reports?limit=1000", nil, &rs); err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	for _, r := range rs {
		per[r.HostID]++
		var rep struct{ Faults []attest.Fault }
		if err := json.Unmarshal(r.Report, &rep); err != nil {
			t.Fatal(err)
		}
		for _, f := range rep.Faults {
			if !strings.HasPrefix(f.Name, "Flavor") {
				t.Errorf("report of %s: fault %s (%s), want only the missing flavors", r.HostID, f.Name, f.Description)
			}
		}
	}
	if len(per) != 20 || per[silent] != 0 {
		t.Errorf("reports by host = %v; want the 20 devices' and none of %s", per, silent)
	}
	stored := 0
	for _, n := range per {
		stored += n
	}
	if stored < res.Attested {
		t.Errorf("the verifier stored %d reports in all, the timed part counted %d", stored, res.Attested)
	}
	var h api.Host
	if err := admin.Do(ctx, "GET", "/v1/hosts/"+url.PathEscape(silent), nil, &h); err != nil {
		t.Fatal(err)
	}
	if h.LastReport != "" || h.Contact == nil || !h.Contact.Stale || !strings.Contains(h.Contact.LastError, "no agent") {
		t.Errorf("the silent device: last report %q, contact %+v; want none, stale, with no agent answering", h.LastReport, h.Contact)
	}

	// Without KeepHosts, the run deletes its hosts at the end.
	cfg.Devices, cfg.HostPrefix, cfg.Duration, cfg.KeepHosts = 3, "gone-", 500*time.Millisecond, false
	if res, err := loadgen.Run(ctx, cfg); err != nil || res.Reported != 3 {
		t.Fatalf("second run = %+v, %v; want 3 devices reported", res, err)
	}
	var hosts []api.Host
	if err := admin.Do(ctx, "GET", "/v1/hosts", nil, &hosts); err != nil {
		t.Fatal(err)
	}
	for _, h := range hosts {
		if strings.HasPrefix(h.ID, "gone-") {
			t.Errorf("host %s left behind by a run without KeepHosts", h.ID)
		}
	}
}

// enrolSilent enrols a simulated device in NATS mode that never answers
// on NATS, waits until the verifier's schedule has tried it, and
// returns its host id.
func enrolSilent(t *testing.T, ctx context.Context, ca *simdevice.CA, admin *api.Client, v *verifierProc) string {
	t.Helper()
	f, err := simdevice.New(simdevice.Config{Devices: 1, HostPrefix: "silent-", CA: ca})
	if err != nil {
		t.Fatal(err)
	}
	d := f.Devices[0]
	req := d.Enroll("")
	if err := admin.Do(ctx, "POST", "/v1/ek-allow", api.EKAllowBody{EKPublic: req.EKPublic}, nil); err != nil {
		t.Fatal(err)
	}
	c := v.client(t, "")
	ch, err := c.Enroll(ctx, api.EnrollBody{EnrollRequest: req, PullURL: natsquote.URL(d.HostID)})
	if err != nil {
		t.Fatal(err)
	}
	act, err := d.Activate(ch)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Activate(ctx, act); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the verifier's first pull of the silent device", func() bool {
		var h api.Host
		return admin.Do(ctx, "GET", "/v1/hosts/"+url.PathEscape(d.HostID), nil, &h) == nil && h.Contact != nil && h.Contact.Failures > 0
	})
	return d.HostID
}
