package store

import (
	"context"
	"strings"
	"time"
)

// Scheduler shares the pull-mode hosts' scheduled attestations between
// verifier replicas on one database, so that each is done once an
// interval however many replicas run. A replica claims due hosts with a
// lease; while the lease runs no other replica claims them. If the
// replica dies, its claims lapse with their leases and another replica
// takes them; if it lives, it releases each when done. The lease is
// kept in the hosts' rows, not in a replica's memory or connection, so
// it outlives both.
//
// Replicas compare their own clocks with the leases that others wrote:
// their clocks must agree to well within a lease.
type Scheduler interface {
	// ClaimDue claims for owner up to n pull-mode hosts that are due
	// at now, and leases them until now+lease: those released after an
	// answer first, then those whose pull failed or whose lease ran
	// out, each group most overdue first. A
	// host is due when it has an activated AK and a pull URL, no report
	// was made in (now-interval, now], and no lease on it runs at now.
	// The returned hosts are as they were when claimed.
	ClaimDue(ctx context.Context, owner string, now time.Time, interval, lease time.Duration, n int) ([]Host, error)
	// Release ends owner's claim on a host; another replica may claim
	// it from notBefore on (the zero time: at once, when it is due).
	// It returns ErrNotFound if the host is not claimed by owner (its
	// lease lapsed and another replica took it, or it was deleted).
	Release(ctx context.Context, hostID, owner string, notBefore time.Time) error
	// ReleaseAll ends every claim of owner's, as a replica stops: a
	// claim committed while its ClaimDue call was being cancelled has
	// no pull to release it.
	ReleaseAll(ctx context.Context, owner string) error
}

// ClaimDue claims due hosts (Scheduler.ClaimDue). On PostgreSQL the
// SELECT passes over rows that another replica's claim holds locked
// (SKIP LOCKED); on SQLite the transaction holds the database.
func (s *sqlStore) ClaimDue(ctx context.Context, owner string, now time.Time, interval, lease time.Duration, n int) ([]Host, error) {
	if n <= 0 {
		return nil, nil
	}
	var hs []Host
	err := s.inTx(ctx, func(tx conn) error {
		hs = hs[:0]
		rows, err := tx.QueryContext(ctx, `SELECT `+hostCols+` FROM hosts
			WHERE pull_url <> '' AND ak_name <> '' AND reported <= ? AND lease_until <= ?
			ORDER BY lease_until, reported, id LIMIT ?`+s.d.lockRows,
			nanos(now.Add(-interval)), nanos(now), n)
		if err != nil {
			return err
		}
		for rows.Next() {
			h, err := scanHost(rows)
			if err != nil {
				rows.Close()
				return err
			}
			hs = append(hs, h)
		}
		rows.Close()
		if err := rows.Err(); err != nil || len(hs) == 0 {
			return err
		}
		args := []any{owner, nanos(now.Add(lease))}
		for _, h := range hs {
			args = append(args, h.ID)
		}
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(hs)), ", ")
		_, err = tx.ExecContext(ctx, `UPDATE hosts SET claimed_by = ?, lease_until = ? WHERE id IN (`+marks+`)`, args...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return hs, nil
}

// ReleaseAll ends every claim of owner's (Scheduler.ReleaseAll).
func (s *sqlStore) ReleaseAll(ctx context.Context, owner string) error {
	return s.exec(ctx, `UPDATE hosts SET claimed_by = '', lease_until = 0 WHERE claimed_by = ?`, owner)
}

// Release ends owner's claim on a host (Scheduler.Release).
func (s *sqlStore) Release(ctx context.Context, hostID, owner string, notBefore time.Time) error {
	return s.execOne(ctx, `UPDATE hosts SET claimed_by = '', lease_until = ? WHERE id = ? AND claimed_by = ?`,
		nanos(notBefore), hostID, owner)
}
