package store

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"tep.dev/tep/internal/postgres"
)

// column is one column as either database describes it.
type column struct {
	Table, Name, Type string
	NotNull           bool
	Default           string
}

// TestSchemaSame: the migrations make the same tables, columns (type,
// NOT NULL, default) and indexes on SQLite and on PostgreSQL.
func TestSchemaSame(t *testing.T) {
	ctx := context.Background()
	lite, pgdb := newSQLiteDB(t), newPostgresDB(t)
	var liteCols, pgCols []column
	// A PRIMARY KEY column is NOT NULL in PostgreSQL and, by an old
	// quirk, nullable in SQLite unless it says so; the store never
	// writes a NULL, so the test counts SQLite's key columns NOT NULL.
	tables := rows(t, lite.raw, `SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
	for _, tb := range tables {
		r, err := lite.raw.QueryContext(ctx, `SELECT name, type, "notnull" OR pk > 0, COALESCE(dflt_value, '') FROM pragma_table_info(?) ORDER BY cid`, tb)
		if err != nil {
			t.Fatal(err)
		}
		for r.Next() {
			c := column{Table: tb}
			r.Scan(&c.Name, &c.Type, &c.NotNull, &c.Default)
			c.Type = strings.ToLower(c.Type)
			liteCols = append(liteCols, c)
		}
		r.Close()
	}
	r, err := pgdb.raw.QueryContext(ctx, `SELECT table_name, column_name, data_type, is_nullable = 'NO', COALESCE(column_default, '')
		FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		var c column
		r.Scan(&c.Table, &c.Name, &c.Type, &c.NotNull, &c.Default)
		c.Default = strings.TrimSuffix(c.Default, "::text")
		pgCols = append(pgCols, c)
	}
	r.Close()
	if len(liteCols) < 50 {
		t.Fatalf("SQLite schema has %d columns: the query found too little", len(liteCols))
	}
	if d := cmp.Diff(liteCols, pgCols); d != "" {
		t.Errorf("columns differ (-sqlite +postgres):\n%s", d)
	}
	// Named indexes and their columns.
	liteIdx := map[string]string{}
	for _, name := range rows(t, lite.raw, `SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL`) {
		liteIdx[name] = strings.Join(rows(t, lite.raw, `SELECT name FROM pragma_index_info(?) ORDER BY seqno`, name), ", ")
	}
	pgIdx := map[string]string{}
	cols := regexp.MustCompile(`\(([^)]*)\)$`)
	for _, def := range rows(t, pgdb.raw, `SELECT indexname || ' ' || indexdef FROM pg_indexes
		WHERE schemaname = 'public' AND indexname NOT LIKE '%\_pkey' AND indexname NOT LIKE '%\_key'`) {
		name, _, _ := strings.Cut(def, " ")
		pgIdx[name] = cols.FindStringSubmatch(def)[1]
	}
	if len(liteIdx) < 4 {
		t.Fatalf("SQLite has %d named indexes: the query found too little", len(liteIdx))
	}
	if d := cmp.Diff(liteIdx, pgIdx); d != "" {
		t.Errorf("indexes differ (-sqlite +postgres):\n%s", d)
	}
}

func rows(t *testing.T, c conn, query string, args ...any) []string {
	t.Helper()
	r, err := c.QueryContext(context.Background(), query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []string
	for r.Next() {
		var s string
		if err := r.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// TestMigrateFromVersion1: a database that an earlier verifier left at
// schema version 1, with a pull-mode host in it, is migrated in place;
// the host keeps its row and is due for a pull.
func TestMigrateFromVersion1(t *testing.T) {
	backends(t, func(t *testing.T, db *testDB) {
		ctx := context.Background()
		// A copy of the store at version 1: the same tables, dropped
		// and made again by the first migration only.
		for _, tb := range rows(t, db.raw, map[string]string{
			"sqlite":   `SELECT name FROM sqlite_master WHERE type = 'table'`,
			"postgres": `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`,
		}[db.name]) {
			if _, err := db.raw.ExecContext(ctx, `DROP TABLE `+tb); err != nil {
				t.Fatal(err)
			}
		}
		stmts := append([]string{`CREATE TABLE schema_version (version INTEGER NOT NULL)`, `INSERT INTO schema_version (version) VALUES (1)`}, migrations[0]...)
		stmts = append(stmts, `INSERT INTO hosts VALUES ('old', 'ek', '', '', '', 'bmFtZQ==', '{}', 'https://old', '', '', '', '', 1, 1)`)
		for _, st := range stmts {
			if _, err := db.raw.ExecContext(ctx, st); err != nil {
				t.Fatalf("%s: %v", st, err)
			}
		}
		s, err := db.reopen()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if v, err := s.Version(ctx); err != nil || v != len(migrations) {
			t.Errorf("Version() = %d, %v, want %d", v, err, len(migrations))
		}
		hs, err := s.ClaimDue(ctx, "A", t0, time.Minute, time.Second, 5)
		if err != nil || len(hs) != 1 || hs[0].ID != "old" || hs[0].PullURL != "https://old" {
			t.Errorf("ClaimDue after migrating = %+v, %v; want host old", hs, err)
		}
	})
}

// TestOpen: store.Open picks the database by its name's form.
func TestOpen(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "v.db"))
	if _, ok := s.(*SQLite); err != nil || !ok {
		t.Errorf("Open(sqlite:PATH) = %T, %v", s, err)
	} else {
		s.Close()
	}
	dsn := freshPostgres(t)
	s, err = Open(ctx, dsn)
	if _, ok := s.(*Postgres); err != nil || !ok {
		t.Errorf("Open(%s) = %T, %v", dsn, s, err)
	} else {
		s.Close()
	}
	for _, bad := range []string{"", "sqlite:", "/var/lib/v.db", "mysql://x", "postgres://nobody@/x?host=/nonexistent"} {
		if s, err := Open(ctx, bad); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", bad)
		}
	}
}

// TestPostgresRestart: a store whose server restarts (a fast shutdown,
// then SIGKILL as a crash) keeps serving once it is back, and has lost
// no committed row. Its own server: the package's must stay up.
func TestPostgresRestart(t *testing.T) {
	srv, err := postgres.Start(postgres.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	ctx := context.Background()
	s, err := OpenPostgres(ctx, srv.ConnString)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	add := func(i int) error {
		return s.AddToken(ctx, Token{ID: fmt.Sprint("t", i), Hash: fmt.Sprint("h", i), Role: RoleAdmin, Created: t0})
	}
	// retry gives the pool one call per connection it held to find them
	// cut; after that every call must succeed.
	retry := func(i int) {
		t.Helper()
		var err error
		for range pgMaxOpen + 1 {
			if err = add(i); err == nil {
				return
			}
		}
		t.Fatalf("after the restart: %v", err)
	}
	for i := range 5 {
		if err := add(i); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	retry(5)
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := add(6); err == nil {
		t.Fatal("a write succeeded with the server down")
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	retry(6)
	ts, err := s.Tokens(ctx)
	var ids []string
	for _, tk := range ts {
		ids = append(ids, tk.ID)
	}
	slices.Sort(ids)
	if want := []string{"t0", "t1", "t2", "t3", "t4", "t5", "t6"}; err != nil || !slices.Equal(ids, want) {
		t.Errorf("tokens after two restarts = %v, %v; want %v", ids, err, want)
	}
}
