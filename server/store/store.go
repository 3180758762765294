// Package store keeps tepd's tokens and their objects in SQLite: WAL
// journal, a busy timeout, every change in one transaction, a schema
// version with forward migrations. A crash at any point loses no
// committed change.
//
// No statement replaces a row: objects hang off their token's row, and a
// replace is a delete (PutToken's INSERT OR REPLACE once took every object
// of a token with it on a PIN change). Tokens are inserted or updated,
// never replaced, and the object table restricts, not cascades, the
// deletion of a token that still has objects. Deleted content is
// overwritten (secure_delete) and the files are the owner's alone (0600,
// the directory 0700).
//
// Concurrency: a Store is safe for concurrent use; SQLite serialises
// writers. Lifetime: Open at start, Close at shutdown.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

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
	// The object table rebuilt: a token row's deletion is refused while it
	// has objects (RESTRICT, so no replace of it can take them along), and
	// a private flag marks rows whose attrs are sealed by the server. The
	// AUTOINCREMENT counter carries over, so no id is used twice.
	`CREATE TABLE object_new (
		id       INTEGER PRIMARY KEY AUTOINCREMENT,
		slot     INTEGER NOT NULL REFERENCES token(slot) ON DELETE RESTRICT,
		private  INTEGER NOT NULL DEFAULT 0,
		attrs    BLOB NOT NULL,
		key      BLOB
	);
	INSERT INTO object_new (id, slot, attrs, key) SELECT id, slot, attrs, key FROM object;
	DELETE FROM sqlite_sequence WHERE name = 'object_new';
	UPDATE sqlite_sequence SET name = 'object_new' WHERE name = 'object';
	DROP TABLE object;
	ALTER TABLE object_new RENAME TO object;
	CREATE INDEX object_slot ON object(slot)`,
	// Key-size policy: the smallest RSA modulus the token makes or takes
	// (0: the server's default).
	`ALTER TABLE token ADD COLUMN min_rsa_bits INTEGER NOT NULL DEFAULT 0`,
	// The token's public key, TPM-sealed without a PIN: it wraps the
	// authorisations of CKA_PRIVATE=FALSE keys (made on first start).
	`ALTER TABLE token ADD COLUMN public_seal BLOB`,
}

// ErrNotFound is returned for a token or object that does not exist.
var ErrNotFound = errors.New("store: no such row")

// Open opens (creating if needed) the database at path and migrates it to
// the current schema. The database and its -wal and -shm files are made
// mode 0600 and their directory 0700, also when an older tepd left them
// readable.
func Open(path string) (*Store, error) {
	if err := restrictModes(path); err != nil {
		return nil, err
	}
	dsn := "file:" + path + "?_journal_mode=WAL&_busy_timeout=5000&_foreign_keys=on&_synchronous=FULL&_txlock=immediate&_secure_delete=on"
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

// restrictModes creates the database file 0600 before SQLite opens it
// (SQLite gives the -wal and -shm files the database's mode) and takes
// group and other access away from an existing database, its -wal and
// -shm, and its directory.
func restrictModes(path string) error {
	if err := os.Chmod(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("restricting the database directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("creating database %s: %w", path, err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("restricting %s: %w", p, err)
		}
	}
	return nil
}

// Checkpoint copies the WAL into the database and truncates the WAL, so
// that pages a transaction overwrote (secure_delete zeroes what it frees)
// leave both files now rather than at SQLite's next automatic checkpoint.
func (s *Store) Checkpoint() error {
	var busy, logPages, done int
	if err := s.db.QueryRow(`PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logPages, &done); err != nil {
		return fmt.Errorf("checkpointing the WAL: %w", err)
	}
	if busy != 0 {
		return errors.New("checkpointing the WAL: a reader holds it; SQLite copies it later")
	}
	return nil
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
