package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// Postgres is a [Store] on a PostgreSQL database, which several
// verifier replicas can share: it runs the statements and migrations
// that [SQLite] runs, and its claims on scheduled work skip the rows
// another replica holds (FOR UPDATE SKIP LOCKED).
type Postgres struct {
	sqlStore
}

var _ Store = (*Postgres)(nil)

// migrateLockKey is the advisory lock the migration transaction holds
// (an arbitrary constant: "tepstore" in ASCII).
const migrateLockKey = 0x74657073746f7265

var postgresDialect = &dialect{
	name:        "postgres",
	numbered:    true,
	lockRows:    " FOR UPDATE SKIP LOCKED",
	migrateLock: fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", migrateLockKey),
	unique: func(err error) bool {
		var pe *pgconn.PgError
		return errors.As(err, &pe) && pe.Code == "23505" // unique_violation
	},
}

// Pool bounds of one replica's connections: the default PostgreSQL
// allows 100, shared by every replica. Every open connection may stay
// idle, for up to pgMaxIdleTime: a new one costs PostgreSQL a process
// (a fork and its authentication), and with a quarter of them kept idle
// the fleet benchmark saw a loaded replica open a new session for every
// few attestations, which loaded it further.
const (
	pgMaxOpen     = 16
	pgMaxIdle     = pgMaxOpen
	pgMaxIdleTime = 5 * time.Minute
	pgMaxLifetime = 30 * time.Minute
)

// OpenPostgres connects to the database that connString names (a
// postgres:// URL or key=value string, as pgx takes it; the password is
// best left to PGPASSWORD or a .pgpass file) and migrates it to the
// current schema. Connections that a restart of the server cut are
// replaced on their next use: the pool pings one that sat idle before
// handing it out.
func OpenPostgres(ctx context.Context, connString string) (*Postgres, error) {
	cfg, err := pgx.ParseConfig(connString)
	if err != nil {
		return nil, fmt.Errorf("opening database: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(pgMaxOpen)
	db.SetMaxIdleConns(pgMaxIdle)
	db.SetConnMaxIdleTime(pgMaxIdleTime)
	db.SetConnMaxLifetime(pgMaxLifetime)
	s := &Postgres{sqlStore{db: db, d: postgresDialect}}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrating database %s@%s/%s: %w", cfg.User, cfg.Host, cfg.Database, err)
	}
	return s, nil
}
