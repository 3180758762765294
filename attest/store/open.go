package store

import (
	"context"
	"errors"
	"strings"
)

// ErrDSN is returned by Open for a database name it does not know.
var ErrDSN = errors.New("store: the database is sqlite:PATH or a postgres:// URL")

// Open opens the store that dsn names: "sqlite:PATH" (a file, made if
// missing) or a "postgres://" or "postgresql://" URL.
func Open(ctx context.Context, dsn string) (Store, error) {
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(dsn, "sqlite:")
		if path == "" {
			return nil, ErrDSN
		}
		return OpenSQLite(path)
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return OpenPostgres(ctx, dsn)
	}
	return nil, ErrDSN
}
