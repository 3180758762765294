package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/api"
	"tep.dev/tep/attest/report"
	"tep.dev/tep/attest/store"
)

var screenshots = flag.String("screenshots", "", "keep TestDashboardBrowser's screenshots in this folder (default: the test's temp dir)")

// evilHost is a host id with markup: the store takes any id, and the
// dashboard must show it as text.
const evilHost = `<img src=x onerror="alert(1)">`

// seedHost enrols and activates a host directly in the verifier's store.
func seedHost(t *testing.T, s store.Store, id string, at time.Time) {
	t.Helper()
	ek := sha256.Sum256([]byte(id))
	e := store.Enrollment{
		ID: "seed-" + hex.EncodeToString(ek[:8]), HostID: id, EKHash: hex.EncodeToString(ek[:]), EKPublic: ek[:],
		AKPublic: []byte("ak"), AKName: append([]byte{0, 11}, ek[:]...), SecretHash: ek[:],
		Facts:   attest.HostFacts{Hostname: "edge-" + hex.EncodeToString(ek[:2]), OS: "Debian GNU/Linux 12", Kernel: "6.1.0-28-amd64", TPMVendor: "IBM", TPMFirmware: "0.7.1"},
		Created: at, Expires: at.Add(time.Hour),
	}
	if err := s.CreateEnrollment(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Activate(context.Background(), e.ID, at); err != nil {
		t.Fatal(err)
	}
}

// seedReport stores a report: trusted, or with a PCR fault (expected and
// actual digests) and a runtime-policy fault naming a file with markup.
func seedReport(t *testing.T, s store.Store, id string, at time.Time, trusted bool) {
	t.Helper()
	ctx := context.Background()
	h, err := s.Host(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	pcr := 7
	rules := []report.Rule{{Name: "pcr_matches", Part: "PLATFORM", PCR: &pcr, Bank: "sha256", Trusted: true}, report.Check("ima_replay", nil)}
	if !trusted {
		rules[0].Trusted = false
		rules[0].Faults = []attest.Fault{{Name: attest.FaultPcrValueMismatchSHA256, Description: "PCR 7 does not match the flavor", PCR: &pcr,
			Bank: "sha256", Expected: strings.Repeat("5a", 32), Actual: strings.Repeat("c3", 32)}}
		rules = append(rules, report.Check("runtime_policy", []attest.Fault{{Name: attest.FaultIMAFileUnknown,
			Description: "an executable that the runtime policy does not list", File: "/tmp/<script>alert(2)</script>"}}))
	}
	body, _ := json.Marshal(report.New(id, at, rules))
	sum := sha256.Sum256(fmt.Appendf(nil, "%s %d", id, at.UnixNano()))
	r := store.Report{ID: hex.EncodeToString(sum[:16]), HostID: id, Created: at, Trusted: trusted, Body: body, JWS: "unsigned"}
	if err := s.AddReport(ctx, r, h.State, fmt.Appendf(nil, `{"ima_entries":%d}`, at.UnixNano())); err != nil {
		t.Fatal(err)
	}
}

// authProxy is a test-only HTTP listener on loopback that adds an
// operator's bearer token and forwards to the verifier over HTTPS,
// checking the verifier's pinned certificate: the browser reaches the
// dashboard through it, and no certificate check is turned off anywhere.
func authProxy(t *testing.T, v *verifierProc, token string) string {
	t.Helper()
	target, _ := url.Parse(v.url)
	pool, err := api.PinnedPool(v.certPEM)
	if err != nil {
		t.Fatal(err)
	}
	p := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Header.Set("Authorization", "Bearer "+token)
		},
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv.URL
}

// chromium runs headless Chromium with args and returns its stdout.
// --no-sandbox: the tests run as root, where Chromium's sandbox refuses
// to start; the pages are the test's own.
func chromium(t *testing.T, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium not found (scripts/deps.sh installs it)")
	}
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=" + t.TempDir(), "--window-size=1280,1100"}
	cmd := exec.Command(bin, append(base, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

func screenshot(t *testing.T, dir, name, pageURL string) {
	t.Helper()
	path := filepath.Join(dir, name)
	chromium(t, "--screenshot="+path, pageURL)
	b, err := os.ReadFile(path)
	if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("screenshot %s: not a PNG (%v)", path, err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(b))
}

var domRow = regexp.MustCompile(`<td class="id"><a href="([^"]*)">([^<]*)</a>`)

// domHosts returns the host list's ids, as text, and their links.
func domHosts(dom string) (ids, links []string) {
	for _, r := range domRow.FindAllStringSubmatch(dom, -1) {
		links = append(links, html.UnescapeString(r[1]))
		ids = append(ids, html.UnescapeString(r[2]))
	}
	return ids, links
}

// seedFleet writes a fleet into the verifier's store: edge-01 trusted
// after a run of untrusted reports, edge-02 untrusted, edge-03 stale,
// edge-04 never attested, and evilHost untrusted.
func seedFleet(t *testing.T, v *verifierProc) {
	t.Helper()
	s, err := store.OpenSQLite(filepath.Join(v.state, "verifier.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	for _, id := range []string{"edge-01", "edge-02", "edge-03", "edge-04", evilHost} {
		seedHost(t, s, id, now.Add(-48*time.Hour))
	}
	for i := 20; i > 0; i-- {
		seedReport(t, s, "edge-01", now.Add(-time.Duration(i+1)*time.Minute/2), i < 8 || i > 14)
	}
	seedReport(t, s, "edge-02", now.Add(-5*time.Minute), true)
	seedReport(t, s, "edge-02", now.Add(-90*time.Second), false)
	seedReport(t, s, "edge-03", now.Add(-2*time.Hour), true)
	seedReport(t, s, evilHost, now.Add(-30*time.Second), false)
}

// TestDashboardBrowser runs tep-verifier serve with a fleet in its
// store (trusted, untrusted, stale, never attested, and a host whose id
// is markup), and loads the dashboard in headless Chromium: the DOM has
// the counts, the list sorted on the server, the host page's faults
// with expected and actual values and its chart, the markup as text;
// screenshots are saved.
func TestDashboardBrowser(t *testing.T) {
	dir := t.TempDir()
	caPEM, _, err := api.SelfSigned("test EK CA", nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ek-ca.pem")
	os.WriteFile(caFile, caPEM, 0o644)
	v := launchVerifier(t, dir, []string{caFile}, nil, "--interval", "1m", "--stale-after", "3")
	seedFleet(t, v)
	out, err := exec.Command(v.bin, "token", "create", "--state", v.state, "--role", store.RoleAuditor, "--json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var tok struct{ Token string }
	json.Unmarshal(out, &tok)
	base := authProxy(t, v, tok.Token)

	browseOverview(t, base)
	browseHosts(t, base)
	// /metrics counts the fleet as the dashboard does.
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, l := range []string{`tep_hosts{state="trusted"} 1`, `tep_hosts{state="untrusted"} 2`, `tep_hosts{state="stale"} 1`, `tep_hosts{state="never attested"} 1`} {
		if !strings.Contains(string(metrics), "\n"+l+"\n") {
			t.Errorf("/metrics lacks %s", l)
		}
	}
	shots := t.TempDir()
	if *screenshots != "" {
		shots = *screenshots
		os.MkdirAll(shots, 0o755)
	}
	screenshot(t, shots, "dashboard-fleet.png", base+"/dashboard/?sort=state")
	screenshot(t, shots, "dashboard-host.png", base+"/dashboard/hosts/edge-01")
	screenshot(t, shots, "dashboard-host-untrusted.png", base+"/dashboard/hosts/edge-02")
}

// browseOverview checks the counts, two sort orders, and the markup
// host's id as text, in the list and on its own page.
func browseOverview(t *testing.T, base string) {
	t.Helper()
	dom := chromium(t, "--dump-dom", base+"/dashboard/?sort=state&order=asc")
	for _, want := range []string{
		`<title>Fleet · TEP verifier</title>`,
		`id="count-total"><span class="n">5</span>`, `id="count-trusted"><span class="n">1</span>`,
		`id="count-untrusted"><span class="n">2</span>`, `id="count-stale"><span class="n">1</span>`,
		`id="count-never"><span class="n">1</span>`,
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the overview's DOM lacks %s", want)
		}
	}
	ids, links := domHosts(dom)
	if want := []string{evilHost, "edge-02", "edge-03", "edge-04", "edge-01"}; strings.Join(ids, "|") != strings.Join(want, "|") {
		t.Errorf("hosts by state = %q, want %q", ids, want)
	}
	if strings.Contains(dom, "<img") || !strings.Contains(dom, `&lt;img src=x onerror="alert(1)"&gt;`) {
		t.Errorf("the host id with markup is not text in the DOM:\n%s", dom)
	}
	if len(links) == 5 {
		// The markup host's own page, by the link the overview gives.
		page := chromium(t, "--dump-dom", base+links[0])
		if strings.Contains(page, "<img") || !strings.Contains(page, `<span id="host-id">&lt;img src=x onerror="alert(1)"&gt;</span>`) {
			t.Errorf("the markup host's page:\n%s", page)
		}
	}
	ids, _ = domHosts(chromium(t, "--dump-dom", base+"/dashboard/?sort=last&order=desc"))
	if want := []string{evilHost, "edge-01", "edge-02", "edge-03", "edge-04"}; strings.Join(ids, "|") != strings.Join(want, "|") {
		t.Errorf("hosts by last report, newest first = %q, want %q", ids, want)
	}
}

// browseHosts checks an untrusted host's faults and chart, and a long
// history's chart.
func browseHosts(t *testing.T, base string) {
	t.Helper()
	host := chromium(t, "--dump-dom", base+"/dashboard/hosts/edge-02")
	for _, want := range []string{
		`id="host-state">untrusted<`, "PcrValueMismatchSHA256",
		`<td class="hex expected">` + strings.Repeat("5a", 32) + `</td>`, `<td class="hex actual">` + strings.Repeat("c3", 32) + `</td>`,
		"/tmp/&lt;script&gt;alert(2)&lt;/script&gt;", `<svg id="history"`, "1 of the last 2 reports trusted",
	} {
		if !strings.Contains(host, want) {
			t.Errorf("edge-02's page lacks %s", want)
		}
	}
	if n := strings.Count(host, "<circle "); n != 2 || strings.Contains(host, "<script") {
		t.Errorf("edge-02's page: %d points on the chart (want 2), or a script element:\n%s", n, host)
	}
	if h := chromium(t, "--dump-dom", base+"/dashboard/hosts/edge-01"); strings.Count(h, "<circle ") != 20 || !strings.Contains(h, "13 of the last 20 reports trusted") {
		t.Errorf("edge-01's history is not 20 reports, 13 trusted:\n%s", h)
	}
}
