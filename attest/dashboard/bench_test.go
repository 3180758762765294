package dashboard

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"tep.dev/tep/attest/store"
)

// BenchmarkIndex renders the overview of a fleet of 2,000 hosts, each
// with a report (every tenth untrusted), as the target fleet.
func BenchmarkIndex(b *testing.B) {
	s, err := store.OpenSQLite(filepath.Join(b.TempDir(), "v.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for i := range 2000 {
		id := fmt.Sprintf("edge-%04d", i)
		addHost(b, s, id, now.Add(-time.Hour))
		addReport(b, s, id, now.Add(-time.Duration(i)*time.Second), i%10 != 0)
	}
	d, err := New(Config{Store: s, Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		d.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/dashboard/?sort=state", nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}
