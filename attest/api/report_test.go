package api_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/api"
	"tep.dev/tep/attest/report"
	"tep.dev/tep/attest/store"
	"tep.dev/tep/attest/verifier"
)

// TestReportRowEdited is a red-team attack by someone who can write the
// verifier's database: a host's untrusted report has its trusted column
// and body changed, and another host's report is moved to it. The API
// must show what the signed report says, not what the row says.
func TestReportRowEdited(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := store.OpenSQLite(filepath.Join(dir, "v.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now().Truncate(time.Second)
	for i, id := range []string{"edge-a", "edge-b"} {
		e := store.Enrollment{ID: "enr-" + id, HostID: id, EKHash: id, EKPublic: []byte(id), AKPublic: []byte(id), AKName: []byte(id),
			SecretHash: []byte{1}, Status: store.EnrollPending, Created: now, Expires: now.Add(time.Hour)}
		if err := s.CreateEnrollment(ctx, e); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Activate(ctx, e.ID, now); err != nil {
			t.Fatal(err)
		}
		var rules []report.Rule
		if i == 0 {
			rules = []report.Rule{report.Check("ima_replay", []attest.Fault{{Name: attest.FaultIMAFileUnknown, File: "/tmp/evil"}})}
		} else {
			rules = []report.Rule{report.Check("quote", nil)}
		}
		rep := report.New(id, now, rules)
		jws, err := report.Sign(rep, key)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(rep)
		r := store.Report{ID: "rep-" + id, HostID: id, Created: now, Trusted: rep.Trusted, Body: body, JWS: jws}
		if err := s.AddReport(ctx, r, nil, []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sql.Open("sqlite3", filepath.Join(dir, "v.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// edge-a's report says trusted; edge-b's trusted report is made
	// edge-a's latest.
	for _, q := range []string{
		`UPDATE reports SET trusted = 1, body = '{"host_id":"edge-a","trusted":true}' WHERE id = 'rep-edge-a'`,
		`INSERT INTO reports (id, host_id, created, trusted, body, jws) SELECT 'moved', 'edge-a', created + 1, trusted, body, jws FROM reports WHERE id = 'rep-edge-b'`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	v := verifier.New(verifier.Config{Store: s})
	srv := newServer(t, api.Config{Verifier: v, ReportKey: key.Public()})
	tok, _, err := v.CreateToken(ctx, store.RoleAuditor, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/v1/reports/rep-edge-a", "/v1/reports?host=edge-a"} {
		var got []api.Report
		getJSON(t, srv, path, tok, &got)
		for _, r := range got {
			var rep report.Report
			json.Unmarshal(r.Report, &rep)
			if r.HostID == "edge-a" && (r.Trusted || rep.Trusted) {
				t.Errorf("GET %s: report %s of edge-a shown trusted (%v, body %s) after its row was edited", path, r.ID, r.Trusted, r.Report)
			}
		}
	}
}

func newServer(t *testing.T, cfg api.Config) *httptest.Server {
	t.Helper()
	srv := httptest.NewTLSServer(api.New(cfg))
	t.Cleanup(srv.Close)
	return srv
}

// getJSON reads one report or a list of them.
func getJSON(t *testing.T, srv *httptest.Server, path, tok string, out *[]api.Report) {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d, %v", path, resp.StatusCode, err)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		var one api.Report
		if err := json.Unmarshal(raw, &one); err != nil {
			t.Fatal(err)
		}
		*out = []api.Report{one}
	}
	if len(*out) == 0 {
		t.Fatalf("GET %s: no report", path)
	}
}
