package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/mattn/go-sqlite3" // registers the sqlite3 driver
)

// SQLite is a [Store] on an embedded SQLite database.
type SQLite struct {
	sqlStore
}

var _ Store = (*SQLite)(nil)

var sqliteDialect = &dialect{
	name: "sqlite",
	unique: func(err error) bool {
		var se sqlite3.Error
		return errors.As(err, &se) && (se.ExtendedCode == sqlite3.ErrConstraintUnique || se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey)
	},
}

// sqliteBusyTimeout is how long a write waits for a write lock that
// another process holds (this process's writes queue in sqlStore.writes).
var sqliteBusyTimeout = 10 * time.Second

// OpenSQLite opens (creating if needed) the database at path, mode 0600
// in a 0700 directory, and migrates it to the current schema.
func OpenSQLite(path string) (*SQLite, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("opening database %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening database %s: %w", path, err)
	}
	f.Close()
	dsn := fmt.Sprintf("file:%s?_journal_mode=WAL&_busy_timeout=%d&_foreign_keys=on&_synchronous=FULL&_txlock=immediate",
		path, sqliteBusyTimeout.Milliseconds())
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening database %s: %w", path, err)
	}
	s := &SQLite{sqlStore{db: db, d: sqliteDialect, writes: make(chan struct{}, 1)}}
	if err := s.migrate(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrating database %s: %w", path, err)
	}
	return s, nil
}
