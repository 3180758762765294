package dashboard

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/report"
	"tep.dev/tep/attest/store"
)

// now is the tests' clock: the dashboard takes it as a parameter.
var now = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

// evilID is a host id with markup in it: the store takes any id, and
// the page must show it as text.
const evilID = `<img src=x onerror="alert(1)">`

// addHost enrols and activates a host directly in the store.
func addHost(t testing.TB, s store.Store, id string, at time.Time) {
	t.Helper()
	ek := sha256.Sum256([]byte(id))
	ctx := context.Background()
	e := store.Enrollment{
		ID: "enr-" + hex.EncodeToString(ek[:8]), HostID: id, EKHash: hex.EncodeToString(ek[:]), EKPublic: ek[:],
		AKPublic: []byte("ak"), AKName: append([]byte{0, 11}, ek[:]...), SecretHash: ek[:],
		Facts: attest.HostFacts{Hostname: id + ".example", OS: "Debian 12", Kernel: "6.1.0"}, Created: at, Expires: at.Add(time.Hour),
	}
	if err := s.CreateEnrollment(ctx, e); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Activate(ctx, e.ID, at); err != nil {
		t.Fatal(err)
	}
}

// addReport stores a report for id at at: trusted, or with a PCR fault
// and an IMA fault whose file name carries markup.
func addReport(t testing.TB, s store.Store, id string, at time.Time, trusted bool) store.Report {
	t.Helper()
	ctx := context.Background()
	h, err := s.Host(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	pcr := 0
	rule := report.Rule{Name: "pcr_matches", Part: "PLATFORM", PCR: &pcr, Bank: "sha256", Trusted: true}
	rules := []report.Rule{rule}
	if !trusted {
		rule.Trusted = false
		rule.Faults = []attest.Fault{{Name: attest.FaultPcrValueMismatchSHA256, Description: "PCR 0 differs", PCR: &pcr, Bank: "sha256",
			Expected: strings.Repeat("ab", 32), Actual: strings.Repeat("cd", 32)}}
		rules = []report.Rule{rule, report.Check("runtime_policy", []attest.Fault{{Name: attest.FaultIMAFileUnknown,
			Description: "an executable not in the policy", File: "/usr/bin/<script>alert(2)</script>"}})}
	}
	body, _ := json.Marshal(report.New(id, at, rules))
	sum := sha256.Sum256(fmt.Appendf(nil, "%s %d", id, at.UnixNano()))
	r := store.Report{ID: hex.EncodeToString(sum[:16]), HostID: id, Created: at, Trusted: trusted, Body: body, JWS: "unsigned"}
	if err := s.AddReport(ctx, r, h.State, fmt.Appendf(nil, `{"ima_entries":%d}`, at.UnixNano())); err != nil {
		t.Fatal(err)
	}
	return r
}

// testFleet has one host in each state, and one whose id is markup:
// trusted-1 (trusted), bad-2 (untrusted, after a trusted report),
// old-3 (stale: trusted long ago), new-4 (never attested), evilID
// (untrusted).
func testFleet(t *testing.T) (*Dashboard, store.Store) {
	t.Helper()
	s, err := store.OpenSQLite(filepath.Join(t.TempDir(), "v.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for _, id := range []string{"trusted-1", "bad-2", "old-3", "new-4", evilID} {
		addHost(t, s, id, now.Add(-24*time.Hour))
	}
	addReport(t, s, "trusted-1", now.Add(-2*time.Minute), false)
	addReport(t, s, "trusted-1", now.Add(-time.Minute), true)
	addReport(t, s, "bad-2", now.Add(-90*time.Second), true)
	addReport(t, s, "bad-2", now.Add(-30*time.Second), false)
	addReport(t, s, "old-3", now.Add(-time.Hour), true)
	addReport(t, s, evilID, now.Add(-10*time.Second), false)
	d, err := New(Config{Store: s, Interval: time.Minute, StaleAfter: 3, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return d, s
}

func get(t *testing.T, h http.Handler, target string) (int, string, http.Header) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b), rec.Result().Header
}

var rowID = regexp.MustCompile(`<td class="id"><a href="[^"]*">([^<]*)</a>`)

// order is the host ids of a list page, in order, as the page shows them.
func order(page string) []string {
	var ids []string
	for _, m := range rowID.FindAllStringSubmatch(page, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

func TestIndex(t *testing.T) {
	d, _ := testFleet(t)
	code, page, hdr := get(t, d, "/dashboard/")
	if code != http.StatusOK {
		t.Fatalf("GET /dashboard/ = %d\n%s", code, page)
	}
	for _, want := range []string{
		`id="count-total"><span class="n">5</span>`, `id="count-trusted"><span class="n">1</span>`,
		`id="count-untrusted"><span class="n">2</span>`, `id="count-stale"><span class="n">1</span>`,
		`id="count-never"><span class="n">1</span>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the overview lacks %s", want)
		}
	}
	if strings.Contains(page, "<img") || !strings.Contains(page, "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;") {
		t.Errorf("the host id with markup is not escaped:\n%s", page)
	}
	if !strings.Contains(page, `href="/dashboard/hosts/%3Cimg%20src=x%20onerror=%22alert%281%29%22%3E"`) {
		t.Errorf("the link to the host with markup in its id is not path-escaped:\n%s", page)
	}
	if csp := hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
}

func TestSort(t *testing.T) {
	d, _ := testFleet(t)
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{evilID, "bad-2", "new-4", "old-3", "trusted-1"}},
		{"?sort=name&order=desc", []string{"trusted-1", "old-3", "new-4", "bad-2", evilID}},
		{"?sort=state", []string{evilID, "bad-2", "old-3", "new-4", "trusted-1"}},
		{"?sort=state&order=desc", []string{"trusted-1", "new-4", "old-3", "bad-2", evilID}},
		{"?sort=last", []string{"new-4", "old-3", "trusted-1", "bad-2", evilID}},
		{"?sort=last&order=desc", []string{evilID, "bad-2", "trusted-1", "old-3", "new-4"}},
		{"?state=untrusted&sort=name", []string{evilID, "bad-2"}},
		{"?state=never+attested", []string{"new-4"}},
	} {
		t.Run(tc.query, func(t *testing.T) {
			code, page, _ := get(t, d, "/dashboard/"+tc.query)
			if code != http.StatusOK {
				t.Fatalf("status %d", code)
			}
			got := order(page)
			for i := range got {
				got[i] = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&#34;", `"`).Replace(got[i])
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("order = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestBadRequests(t *testing.T) {
	d, _ := testFleet(t)
	for _, tc := range []struct {
		target string
		code   int
	}{
		{"/dashboard/?sort=ek", http.StatusBadRequest},
		{"/dashboard/?order=sideways", http.StatusBadRequest},
		{"/dashboard/?state=%3Cb%3E", http.StatusBadRequest},
		{"/dashboard/hosts/nope", http.StatusNotFound},
		{"/dashboard/elsewhere", http.StatusNotFound},
	} {
		code, page, _ := get(t, d, tc.target)
		if code != tc.code {
			t.Errorf("GET %s = %d, want %d", tc.target, code, tc.code)
		}
		if strings.Contains(page, "<b>") {
			t.Errorf("GET %s reflects markup: %s", tc.target, page)
		}
	}
}

func TestHostPage(t *testing.T) {
	d, _ := testFleet(t)
	code, page, _ := get(t, d, "/dashboard/hosts/bad-2")
	if code != http.StatusOK {
		t.Fatalf("status %d\n%s", code, page)
	}
	for _, want := range []string{
		`id="host-state">untrusted<`, `id="latest-verdict">untrusted<`, "PcrValueMismatchSHA256",
		`<td class="hex expected">` + strings.Repeat("ab", 32), `<td class="hex actual">` + strings.Repeat("cd", 32),
		"/usr/bin/&lt;script&gt;alert(2)&lt;/script&gt;", "1 of the last 2 reports trusted",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("host page lacks %s", want)
		}
	}
	if n := strings.Count(page, "<circle "); n != 2 {
		t.Errorf("the chart has %d points, want 2", n)
	}
	if strings.Contains(page, "<script") {
		t.Error("fault text rendered as markup")
	}
	// The host whose id is markup has a page, reached by its escaped id.
	code, page, _ = get(t, d, "/dashboard/hosts/%3Cimg%20src=x%20onerror=%22alert%281%29%22%3E")
	if code != http.StatusOK || strings.Contains(page, "<img") || !strings.Contains(page, `id="host-id">&lt;img`) {
		t.Errorf("the host with markup in its id: %d\n%s", code, page)
	}
	code, page, _ = get(t, d, "/dashboard/hosts/new-4")
	if code != http.StatusOK || !strings.Contains(page, `id="latest-none"`) || !strings.Contains(page, `id="host-state">never attested<`) {
		t.Errorf("the never-attested host's page: %d\n%s", code, page)
	}
	code, page, _ = get(t, d, "/dashboard/hosts/old-3")
	if code != http.StatusOK || !strings.Contains(page, `id="host-state">stale<`) {
		t.Errorf("the stale host's page: %d\n%s", code, page)
	}
}

// TestStaleBoundary: StaleAfter intervals without a report is the limit;
// one nanosecond more is stale.
func TestStaleBoundary(t *testing.T) {
	d := &Dashboard{cfg: Config{Interval: time.Minute, StaleAfter: 3}}
	r := &store.Report{Created: now, Trusted: true}
	if got := d.state(r, now.Add(3*time.Minute)); got != StateTrusted {
		t.Errorf("state at 3 intervals = %s, want trusted", got)
	}
	if got := d.state(r, now.Add(3*time.Minute+1)); got != StateStale {
		t.Errorf("state after 3 intervals = %s, want stale", got)
	}
	if got := d.state(nil, now); got != StateNever {
		t.Errorf("state without reports = %s", got)
	}
}

func TestChart(t *testing.T) {
	rs := []store.Report{ // newest first
		{ID: "c", Created: now, Trusted: true},
		{ID: "b", Created: now.Add(-time.Minute), Trusted: false},
		{ID: "a", Created: now.Add(-2 * time.Minute), Trusted: true},
	}
	c := chart(rs)
	if len(c.Points) != 3 || c.Points[0].ID != "a" || c.Points[2].ID != "c" {
		t.Fatalf("points = %+v", c.Points)
	}
	mid := (c.X0 + c.X1) / 2
	if c.Points[0].X != c.X0 || c.Points[1].X != mid || c.Points[2].X != c.X1 {
		t.Errorf("x = %d %d %d, want %d %d %d", c.Points[0].X, c.Points[1].X, c.Points[2].X, c.X0, mid, c.X1)
	}
	if c.Points[1].Y != c.YUntrust || c.Points[0].Y != c.YTrusted || c.Trusted != 2 {
		t.Errorf("y or count wrong: %+v", c)
	}
	want := fmt.Sprintf("M%d %d H%d V%d H%d V%d", c.X0, c.YTrusted, mid, c.YUntrust, c.X1, c.YTrusted)
	if c.Path != want {
		t.Errorf("path = %q, want %q", c.Path, want)
	}
	if e := chart(nil); len(e.Points) != 0 || e.Path != "" {
		t.Errorf("empty chart = %+v", e)
	}
}

// TestStoreDown: a store that cannot be read gives a 500 page, not a
// half-rendered one.
func TestStoreDown(t *testing.T) {
	d, s := testFleet(t)
	s.Close()
	for _, target := range []string{"/dashboard/", "/dashboard/hosts/bad-2"} {
		if code, page, _ := get(t, d, target); code != http.StatusInternalServerError || strings.Contains(page, "count-total") {
			t.Errorf("GET %s with the store closed = %d", target, code)
		}
	}
}

// TestGetOnly: the dashboard changes nothing and takes no other method,
// so a forged cross-site form can do nothing with it.
func TestGetOnly(t *testing.T) {
	d, _ := testFleet(t)
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		rec := httptest.NewRecorder()
		d.ServeHTTP(rec, httptest.NewRequest(m, "/dashboard/hosts/bad-2", strings.NewReader("x=1")))
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s /dashboard/hosts/bad-2 = %d, want 405", m, rec.Code)
		}
	}
	if code, _, hdr := get(t, d, "/dashboard/style.css"); code != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/css") {
		t.Errorf("style.css = %d %q", code, hdr.Get("Content-Type"))
	}
}
