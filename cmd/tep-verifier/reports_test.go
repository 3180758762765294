package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"tep.dev/tep/attest/api"
)

// TestReportsLatestOfOneHost: --latest with --host gives that host's
// latest report only (it gave every host's).
func TestReportsLatestOfOneHost(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/reports/latest" {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode([]api.Report{{ID: "ra", HostID: "a"}, {ID: "rb", HostID: "b"}})
	}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"reports", "--verifier", srv.URL, "--ca", ca, "--token", "t", "--latest", "--host", "b", "--json"}, &out, &errOut)
	if err != nil {
		t.Fatalf("reports: %v %s", err, errOut.String())
	}
	var rs []api.Report
	if err := json.Unmarshal(out.Bytes(), &rs); err != nil || len(rs) != 1 || rs[0].ID != "rb" {
		t.Errorf("reports --latest --host b = %s (%v), want report rb only", out.String(), err)
	}
}
