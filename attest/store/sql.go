package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// dialect is what differs between the SQL databases the store runs on.
// Statements are written once, with "?" placeholders (doc.go).
type dialect struct {
	name string
	// numbered rewrites "?" placeholders to PostgreSQL's "$1", "$2"...
	numbered bool
	// lockRows ends a SELECT whose rows the transaction will update and
	// that other transactions should pass over rather than wait for.
	// SQLite has no row locks: its transactions take the database's
	// write lock at BEGIN (_txlock=immediate), so it needs none.
	lockRows string
	// migrateLock runs first in the migration transaction, so that
	// replicas starting at once on an empty database do not both create
	// the tables.
	migrateLock string
	// unique says whether err is a unique or primary key violation.
	unique func(error) bool
}

// bind rewrites a statement's placeholders for the dialect. The
// statements hold no "?" in string literals.
func (d *dialect) bind(query string) string {
	if !d.numbered || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// sqlStore is the [Store] both databases run: the same statements and
// migrations, bound for the dialect.
type sqlStore struct {
	db *sql.DB
	d  *dialect
	// writes, when set (SQLite), lets one write or transaction run at a
	// time in this process: SQLite has one write lock, and its busy
	// handler, which polls, lets a newcomer take the lock ahead of a
	// writer that has waited long, so under a burst of enrolments and
	// reports a write could wait past the busy timeout and fail with
	// "database is locked". A Go channel queues them instead.
	writes chan struct{}
}

// sqlConn is a *sql.DB or a *sql.Tx.
type sqlConn interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// conn runs "?" statements on a database or transaction in a dialect.
type conn struct {
	c sqlConn
	d *dialect
}

func (c conn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return c.c.ExecContext(ctx, c.d.bind(query), args...)
}

func (c conn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return c.c.QueryContext(ctx, c.d.bind(query), args...)
}

func (c conn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return c.c.QueryRowContext(ctx, c.d.bind(query), args...)
}

// conn runs statements outside a transaction.
func (s *sqlStore) conn() conn { return conn{s.db, s.d} }

// writing waits for this process's turn to write (see writes) and
// returns the function that ends it.
func (s *sqlStore) writing(ctx context.Context) (func(), error) {
	if s.writes == nil {
		return func() {}, nil
	}
	select {
	case s.writes <- struct{}{}:
		return func() { <-s.writes }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// exec runs one writing statement outside a transaction.
func (s *sqlStore) exec(ctx context.Context, query string, args ...any) error {
	done, err := s.writing(ctx)
	if err != nil {
		return err
	}
	defer done()
	_, err = s.conn().ExecContext(ctx, query, args...)
	return err
}

// execOne is exec for a statement that must change exactly one row;
// ErrNotFound if it changed none.
func (s *sqlStore) execOne(ctx context.Context, query string, args ...any) error {
	done, err := s.writing(ctx)
	if err != nil {
		return err
	}
	defer done()
	return execOne(ctx, s.conn(), query, args...)
}

// inTx runs fn in one transaction, committed only if fn succeeds.
func (s *sqlStore) inTx(ctx context.Context, fn func(conn) error) error {
	done, err := s.writing(ctx)
	if err != nil {
		return err
	}
	defer done()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(conn{tx, s.d}); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Close closes the database.
func (s *sqlStore) Close() error { return s.db.Close() }

// Version returns the schema version.
func (s *sqlStore) Version(ctx context.Context) (int, error) {
	return version(ctx, s.conn())
}

func version(ctx context.Context, c conn) (int, error) {
	var v int
	err := c.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v)
	return v, err
}

// migrate brings the schema to len(migrations) in one transaction.
func (s *sqlStore) migrate(ctx context.Context) error {
	return s.inTx(ctx, func(tx conn) error {
		if s.d.migrateLock != "" {
			if _, err := tx.ExecContext(ctx, s.d.migrateLock); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
			return err
		}
		v, err := version(ctx, tx)
		if errors.Is(err, sql.ErrNoRows) {
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (0)`); err != nil {
				return err
			}
			v, err = 0, nil
		}
		if err != nil {
			return err
		}
		if v > len(migrations) {
			return fmt.Errorf("schema version %d is newer than this verifier (%d)", v, len(migrations))
		}
		for ; v < len(migrations); v++ {
			for _, stmt := range migrations[v] {
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("to version %d: %w", v+1, err)
				}
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE schema_version SET version = ?`, v)
		return err
	})
}
