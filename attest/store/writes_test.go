package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestSQLiteWriteBurst: 32 goroutines of one process write at once
// (allow-list entries, tokens, contacts, transactions), with SQLite's
// busy timeout cut to a millisecond. Queued in the process, no write
// meets another's lock: none fails with "database is locked", which a
// burst of enrolments and reports once met on the ten-second timeout.
func TestSQLiteWriteBurst(t *testing.T) {
	defer func(d time.Duration) { sqliteBusyTimeout = d }(sqliteBusyTimeout)
	sqliteBusyTimeout = time.Millisecond
	s, err := OpenSQLite(filepath.Join(t.TempDir(), "v.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 32*40)
	for g := range 32 {
		wg.Go(func() {
			for i := range 10 {
				id := fmt.Sprintf("%d-%d", g, i)
				for _, err := range []error{
					s.AllowEK(ctx, "ek-"+id),
					s.AddToken(ctx, Token{ID: "t-" + id, Hash: "h-" + id, Role: RoleEnroll, Created: time.Now()}),
					s.RecordContact(ctx, "host-"+id, time.Now(), ""),
					s.inTx(ctx, func(tx conn) error {
						_, err := tx.ExecContext(ctx, `INSERT INTO ek_allow (ek_hash) VALUES (?)`, "tx-"+id)
						return err
					}),
				} {
					if err != nil {
						errs <- err
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n++; n <= 3 {
			t.Error(err)
		}
	}
	if n > 0 {
		t.Errorf("%d of %d writes failed", n, 32*40)
	}
}
