package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 6, 2, 0, 0, 0, time.UTC)

func TestMigrations(t *testing.T) {
	backends(t, func(t *testing.T, db *testDB) {
		ctx := context.Background()
		if v, err := db.s.Version(ctx); err != nil || v != len(migrations) {
			t.Fatalf("Version() = %d, %v, want %d", v, err, len(migrations))
		}
		// Opening again migrates nothing and keeps the version.
		s2, err := db.reopen()
		if err != nil {
			t.Fatal(err)
		}
		if v, err := s2.Version(ctx); err != nil || v != len(migrations) {
			t.Errorf("Version() after reopening = %d, %v, want %d", v, err, len(migrations))
		}
		s2.Close()
		if _, err := db.raw.ExecContext(ctx, `UPDATE schema_version SET version = 99`); err != nil {
			t.Fatal(err)
		}
		if s3, err := db.reopen(); err == nil {
			s3.Close()
			t.Fatal("opening a newer schema succeeded")
		}
	})
}

func enrol(t *testing.T, s Store, id, host, ek string, expires time.Time) {
	t.Helper()
	err := s.CreateEnrollment(context.Background(), Enrollment{
		ID: id, HostID: host, EKHash: ek, EKPublic: []byte(ek), AKPublic: []byte("ak-" + id), AKName: []byte("name-" + id),
		SecretHash: []byte{1, 2}, Created: t0, Expires: expires,
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestActivate(t *testing.T) {
	backends(t, func(t *testing.T, db *testDB) {
		s := db.s
		ctx := context.Background()
		enrol(t, s, "e1", "h1", "ekA", t0.Add(time.Minute))
		h, err := s.Activate(ctx, "e1", t0)
		if err != nil || string(h.AKName) != "name-e1" || h.EKHash != "ekA" {
			t.Fatalf("Activate = %+v, %v", h, err)
		}
		if _, err := s.Activate(ctx, "e1", t0); !errors.Is(err, ErrUsed) {
			t.Errorf("second Activate = %v, want ErrUsed", err)
		}
		if _, err := s.Activate(ctx, "nope", t0); !errors.Is(err, ErrNotFound) {
			t.Errorf("Activate(unknown) = %v, want ErrNotFound", err)
		}
		enrol(t, s, "e2", "h1", "ekA", t0.Add(time.Minute))
		if es, err := s.PendingEnrollments(ctx, "h1", t0); err != nil || len(es) != 1 || es[0].ID != "e2" {
			t.Errorf("PendingEnrollments = %+v, %v; want e2", es, err)
		}
		if _, err := s.Activate(ctx, "e2", t0.Add(time.Minute)); !errors.Is(err, ErrUsed) {
			t.Errorf("Activate(expired) = %v, want ErrUsed", err)
		}
		// The old AK stays until a new one is activated.
		if h, _ := s.Host(ctx, "h1"); string(h.AKName) != "name-e1" {
			t.Errorf("AK after a failed activation = %q, want name-e1", h.AKName)
		}
		enrol(t, s, "e3", "h1", "ekB", t0.Add(time.Minute))
		if _, err := s.Activate(ctx, "e3", t0); !errors.Is(err, ErrConflict) {
			t.Errorf("Activate(other EK) = %v, want ErrConflict", err)
		}
		enrol(t, s, "e4", "h2", "ekA", t0.Add(time.Minute))
		if _, err := s.Activate(ctx, "e4", t0); !errors.Is(err, ErrConflict) {
			t.Errorf("Activate(same EK, other host) = %v, want ErrConflict", err)
		}
		enrol(t, s, "e5", "h1", "ekA", t0.Add(time.Minute))
		if h, err := s.Activate(ctx, "e5", t0); err != nil || string(h.AKName) != "name-e5" {
			t.Errorf("Activate(new AK) = %q, %v", h.AKName, err)
		}
	})
}

func TestNonce(t *testing.T) {
	backends(t, func(t *testing.T, db *testDB) {
		s := db.s
		ctx := context.Background()
		n := []byte("nonce-1")
		if err := s.AddNonce(ctx, "h1", n, t0, t0.Add(time.Minute), 4); err != nil {
			t.Fatal(err)
		}
		if c, _ := s.PendingNonces(ctx, "h1", t0); c != 1 {
			t.Errorf("PendingNonces = %d, want 1", c)
		}
		if err := s.UseNonce(ctx, "h2", n, t0); !errors.Is(err, ErrUsed) {
			t.Errorf("UseNonce(other host) = %v, want ErrUsed", err)
		}
		if err := s.UseNonce(ctx, "h1", n, t0); err != nil {
			t.Fatalf("UseNonce = %v", err)
		}
		if err := s.UseNonce(ctx, "h1", n, t0); !errors.Is(err, ErrUsed) {
			t.Errorf("UseNonce(replay) = %v, want ErrUsed", err)
		}
		s.AddNonce(ctx, "h1", []byte("nonce-2"), t0, t0.Add(time.Minute), 4)
		if err := s.UseNonce(ctx, "h1", []byte("nonce-2"), t0.Add(time.Minute)); !errors.Is(err, ErrUsed) {
			t.Errorf("UseNonce(expired) = %v, want ErrUsed", err)
		}
	})
}

// TestNonceBound: a host keeps its newest unspent nonces; the oldest go.
func TestNonceBound(t *testing.T) {
	backends(t, func(t *testing.T, db *testDB) {
		s := db.s
		ctx := context.Background()
		for i := range 6 {
			if err := s.AddNonce(ctx, "h1", []byte{byte(i)}, t0, t0.Add(time.Duration(i+1)*time.Second), 4); err != nil {
				t.Fatal(err)
			}
		}
		s.AddNonce(ctx, "h2", []byte{9}, t0, t0.Add(time.Second), 4)
		if n, _ := s.PendingNonces(ctx, "h1", t0); n != 4 {
			t.Errorf("PendingNonces(h1) = %d, want 4", n)
		}
		for i, want := range []bool{false, false, true, true, true, true} {
			err := s.UseNonce(ctx, "h1", []byte{byte(i)}, t0)
			if (err == nil) != want {
				t.Errorf("UseNonce(nonce %d) = %v, want usable %v", i, err, want)
			}
		}
		if err := s.UseNonce(ctx, "h2", []byte{9}, t0); err != nil {
			t.Errorf("another host's nonce: %v", err)
		}
	})
}

func TestTokens(t *testing.T) {
	backends(t, func(t *testing.T, db *testDB) {
		s := db.s
		ctx := context.Background()
		s.AddToken(ctx, Token{ID: "t1", Hash: "h-admin", Role: RoleAdmin, Created: t0})
		s.AddToken(ctx, Token{ID: "t2", Hash: "h-enrol", Role: RoleEnroll, Created: t0, Expires: t0.Add(time.Hour)})
		if tok, err := s.TokenByHash(ctx, "h-admin"); err != nil || tok.Role != RoleAdmin {
			t.Fatalf("TokenByHash = %+v, %v", tok, err)
		}
		if err := s.UseEnrollToken(ctx, "h-admin", "x", t0); !errors.Is(err, ErrUsed) {
			t.Errorf("UseEnrollToken(admin token) = %v, want ErrUsed", err)
		}
		if err := s.UseEnrollToken(ctx, "h-enrol", "x", t0.Add(time.Hour)); !errors.Is(err, ErrUsed) {
			t.Errorf("UseEnrollToken(expired) = %v, want ErrUsed", err)
		}
		if err := s.UseEnrollToken(ctx, "h-enrol", "x", t0); err != nil {
			t.Fatalf("UseEnrollToken = %v", err)
		}
		if err := s.UseEnrollToken(ctx, "h-enrol", "y", t0); !errors.Is(err, ErrUsed) {
			t.Errorf("UseEnrollToken(twice) = %v, want ErrUsed", err)
		}
		if err := s.RevokeToken(ctx, "t1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.TokenByHash(ctx, "h-admin"); !errors.Is(err, ErrNotFound) {
			t.Errorf("TokenByHash(revoked) = %v, want ErrNotFound", err)
		}
		if err := s.RevokeToken(ctx, "t9"); !errors.Is(err, ErrNotFound) {
			t.Errorf("RevokeToken(unknown) = %v, want ErrNotFound", err)
		}
		s.AllowEK(ctx, "ek1")
		s.AllowEK(ctx, "ek1")
		if ok, err := s.EKAllowed(ctx, "ek1"); !ok || err != nil {
			t.Errorf("EKAllowed(ek1) = %v, %v", ok, err)
		}
		if ok, _ := s.EKAllowed(ctx, "ek2"); ok {
			t.Error("EKAllowed(ek2) = true")
		}
	})
}

func TestReports(t *testing.T) {
	backends(t, func(t *testing.T, db *testDB) {
		s := db.s
		ctx := context.Background()
		enrol(t, s, "e1", "h1", "ekA", t0.Add(time.Minute))
		if _, err := s.Activate(ctx, "e1", t0); err != nil {
			t.Fatal(err)
		}
		add := func(id string, at time.Time, prev, next string) error {
			return s.AddReport(ctx, Report{ID: id, HostID: "h1", Created: at, Trusted: true, Body: []byte(`{}`), JWS: "x.y.z"}, []byte(prev), []byte(next))
		}
		if err := add("r1", t0, "", `{"n":1}`); err != nil {
			t.Fatal(err)
		}
		if err := add("r2", t0.Add(time.Second), `{"n":1}`, `{"n":2}`); err != nil {
			t.Fatal(err)
		}
		// An appraisal that started from state 1 lost the race.
		if err := add("r3", t0.Add(2*time.Second), `{"n":1}`, `{"n":3}`); !errors.Is(err, ErrConflict) {
			t.Errorf("AddReport(stale state) = %v, want ErrConflict", err)
		}
		if _, err := s.Report(ctx, "r3"); !errors.Is(err, ErrNotFound) {
			t.Errorf("the conflicting report was stored: %v", err)
		}
		latest, err := s.Latest(ctx)
		if err != nil || len(latest) != 1 || latest[0].ID != "r2" {
			t.Fatalf("Latest = %+v, %v, want r2", latest, err)
		}
		rs, err := s.Reports(ctx, ReportQuery{HostID: "h1", Until: t0.Add(time.Second)})
		if err != nil || len(rs) != 1 || rs[0].ID != "r1" {
			t.Fatalf("Reports(until) = %+v, %v, want r1", rs, err)
		}
		rs, _ = s.Reports(ctx, ReportQuery{})
		if len(rs) != 2 || rs[0].ID != "r2" {
			t.Errorf("Reports() = %+v, want r2, r1", rs)
		}
		if err := s.DeleteHost(ctx, "h1"); err != nil {
			t.Fatal(err)
		}
		if rs, _ := s.Reports(ctx, ReportQuery{}); len(rs) != 0 {
			t.Errorf("reports after DeleteHost: %d", len(rs))
		}
	})
}

func TestPolicies(t *testing.T) {
	backends(t, func(t *testing.T, db *testDB) {
		s := db.s
		ctx := context.Background()
		p := Policy{Kind: KindFlavor, ID: "f1", Name: "a", Body: []byte(`{"a":1}`), Signature: []byte{9}, Created: t0}
		if err := s.PutPolicy(ctx, p); err != nil {
			t.Fatal(err)
		}
		p.Body = []byte(`{"a":2}`)
		if err := s.PutPolicy(ctx, p); err != nil {
			t.Fatal(err)
		}
		got, err := s.Policy(ctx, KindFlavor, "f1")
		if err != nil || string(got.Body) != `{"a":2}` || got.Signature[0] != 9 {
			t.Fatalf("Policy = %+v, %v", got, err)
		}
		if _, err := s.Policy(ctx, KindTemplate, "f1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Policy(other kind) = %v, want ErrNotFound", err)
		}
		if err := s.DeletePolicy(ctx, KindFlavor, "f1"); err != nil {
			t.Fatal(err)
		}
		if ps, _ := s.Policies(ctx, KindFlavor); len(ps) != 0 {
			t.Errorf("Policies after delete = %d", len(ps))
		}
	})
}

// TestRecentEnrollments counts an EK's enrolments after a time, pending
// and activated, and no other EK's.
func TestRecentEnrollments(t *testing.T) {
	backends(t, func(t *testing.T, db *testDB) {
		ctx := context.Background()
		enrol(t, db.s, "e1", "h1", "ekA", t0.Add(time.Minute))
		enrol(t, db.s, "e2", "h2", "ekA", t0.Add(time.Minute))
		enrol(t, db.s, "e3", "h3", "ekB", t0.Add(time.Minute))
		if _, err := db.s.Activate(ctx, "e1", t0); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			ek    string
			since time.Time
			want  int
		}{{"ekA", t0.Add(-time.Second), 2}, {"ekB", t0.Add(-time.Second), 1}, {"ekA", t0, 0}, {"ekC", time.Time{}, 0}} {
			if n, err := db.s.RecentEnrollments(ctx, tc.ek, tc.since); err != nil || n != tc.want {
				t.Errorf("RecentEnrollments(%s, %v) = %d, %v; want %d", tc.ek, tc.since, n, err, tc.want)
			}
		}
	})
}
