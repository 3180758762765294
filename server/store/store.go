// Package store keeps tepd's tokens (and, later, their objects) in SQLite:
// WAL journal, a busy timeout, every change in one transaction, a schema
// version with forward migrations. A crash at any point loses no
// committed change.
//
// Concurrency: a Store is safe for concurrent use; SQLite serialises
// writers. Lifetime: Open at start, Close at shutdown.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	_ "github.com/mattn/go-sqlite3" // registers the sqlite3 driver
)

// Store is an open database.
type Store struct {
	db *sql.DB
}

// migrations[i] brings the schema from version i to i+1.
var migrations = []string{
	`CREATE TABLE token (
		slot        INTEGER PRIMARY KEY,
		label       TEXT NOT NULL,
		serial      TEXT NOT NULL UNIQUE,
		so_salt     BLOB NOT NULL,
		so_seal     BLOB NOT NULL,
		user_salt   BLOB,
		user_seal   BLOB,
		created     INTEGER NOT NULL
	)`,
	`CREATE TABLE object (
		id     INTEGER PRIMARY KEY AUTOINCREMENT,
		slot   INTEGER NOT NULL REFERENCES token(slot) ON DELETE CASCADE,
		attrs  BLOB NOT NULL
	);
	CREATE INDEX object_slot ON object(slot)`,
	`ALTER TABLE object ADD COLUMN key BLOB`,
	// PIN lifecycle: the tries a PIN gets (0: the server's default) and
	// the wrong PINs counted since each PIN last opened the token.
	`ALTER TABLE token ADD COLUMN pin_tries INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE token ADD COLUMN user_pin_fails INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE token ADD COLUMN so_pin_fails INTEGER NOT NULL DEFAULT 0`,
}

// ErrNotFound is returned for a token that does not exist.
var ErrNotFound = errors.New("store: no such token")

// Open opens (creating if needed) the database at path and migrates it to
// the current schema.
func Open(path string) (*Store, error) {
	dsn := "file:" + path + "?_journal_mode=WAL&_busy_timeout=5000&_foreign_keys=on&_synchronous=FULL&_txlock=immediate"
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening database %s: %w", path, err)
	}
	s := &Store{db: db}
	if err := s.migrate(); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrating database %s: %w", path, err)
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Version returns the schema version.
func (s *Store) Version() (int, error) {
	var v int
	err := s.db.QueryRow(`PRAGMA user_version`).Scan(&v)
	return v, err
}

func (s *Store) migrate() error {
	return s.tx(func(tx *sql.Tx) error {
		var v int
		if err := tx.QueryRow(`PRAGMA user_version`).Scan(&v); err != nil {
			return err
		}
		if v > len(migrations) {
			return fmt.Errorf("schema version %d is newer than this tepd (%d)", v, len(migrations))
		}
		for ; v < len(migrations); v++ {
			if _, err := tx.Exec(migrations[v]); err != nil {
				return fmt.Errorf("to version %d: %w", v+1, err)
			}
		}
		_, err := tx.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, v))
		return err
	})
}

// tx runs fn in one transaction, committed only if fn succeeds.
func (s *Store) tx(fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(context.Background(), nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
