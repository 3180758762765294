package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"tep.dev/tep/internal/postgres"
)

// pg is the PostgreSQL server of this package's tests, started once by
// TestMain; pgErr says why there is none, and fails every PostgreSQL
// test (a test that cannot fail is a defect: a missing server is not
// skipped).
var (
	pg    *postgres.Server
	pgErr error
	dbSeq atomic.Int64
)

func TestMain(m *testing.M) {
	pg, pgErr = postgres.Start(postgres.Config{})
	code := m.Run()
	if pg != nil {
		pg.Stop()
	}
	os.Exit(code)
}

// testDB is one backend's fresh database for one test.
type testDB struct {
	name string
	s    Store
	// reopen opens the same database again, migrating it.
	reopen func() (Store, error)
	// raw runs statements on the database beside the store, with "?"
	// placeholders.
	raw conn
}

// stores returns n stores on the database, as n replicas would hold:
// the test's own and n-1 more, closed when the test ends.
func (db *testDB) stores(t *testing.T, n int) []Store {
	t.Helper()
	stores := []Store{db.s}
	for range n - 1 {
		s, err := db.reopen()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	return stores
}

// backends runs fn once on a fresh SQLite database and once on a fresh
// PostgreSQL database: the same test for both.
func backends(t *testing.T, fn func(t *testing.T, db *testDB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, newSQLiteDB(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, newPostgresDB(t)) })
}

func newSQLiteDB(t *testing.T) *testDB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "v.db")
	db := &testDB{name: "sqlite", reopen: func() (Store, error) { return OpenSQLite(path) }}
	s, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	db.s, db.raw = s, s.conn()
	return db
}

// newPostgresDB makes a database of its own for the test on the
// package's server.
func newPostgresDB(t *testing.T) *testDB {
	t.Helper()
	dsn := freshPostgres(t)
	db := &testDB{name: "postgres", reopen: func() (Store, error) { return OpenPostgres(context.Background(), dsn) }}
	s, err := OpenPostgres(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	db.s, db.raw = s, s.conn()
	return db
}

// freshPostgres creates an empty database and returns its URL.
func freshPostgres(t *testing.T) string {
	t.Helper()
	if pgErr != nil {
		t.Fatalf("no PostgreSQL for the tests: %v", pgErr)
	}
	ctx := context.Background()
	c, err := pgx.Connect(ctx, pg.ConnString)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	name := fmt.Sprintf("t%d", dbSeq.Add(1))
	if _, err := c.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	return pg.ConnStringDB(name)
}
