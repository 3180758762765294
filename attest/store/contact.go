package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Contact is what the verifier's attempts to attest a pulled host (over
// HTTPS or NATS) gave lately. A host whose last attempt failed is stale:
// its last report stands, and no report is made for the failure.
type Contact struct {
	HostID string
	// LastReport is when an attempt last stored a report (zero: never).
	LastReport time.Time
	// FailingSince is the first of the failures since then, zero when
	// the last attempt stored a report; Failures counts them, and
	// LastError says why the latest failed.
	FailingSince time.Time
	Failures     int
	LastError    string
	Updated      time.Time
}

// Stale says whether the host's last attempt failed.
func (c Contact) Stale() bool { return c.Failures > 0 }

// maxContactError bounds the stored reason of a failure.
const maxContactError = 512

const contactCols = `host_id, last_report, failing_since, failures, last_error, updated`

// RecordContact records an attempt to attest a host at now: failure ""
// for one that stored a report, else why it did not.
func (s *SQLite) RecordContact(ctx context.Context, hostID string, now time.Time, failure string) error {
	if len(failure) > maxContactError {
		failure = failure[:maxContactError]
	}
	// Its own transaction, not the store's helpers: this file reads the
	// same on the SQLite store alone and on the store both databases
	// share (the statements are SQLite's).
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := recordContact(ctx, tx, hostID, now, failure); err != nil {
		return err
	}
	return tx.Commit()
}

func recordContact(ctx context.Context, tx *sql.Tx, hostID string, now time.Time, failure string) error {
	c, err := scanContact(tx.QueryRowContext(ctx, `SELECT `+contactCols+` FROM contacts WHERE host_id = ?`, hostID))
	isNew := errors.Is(err, ErrNotFound)
	if err != nil && !isNew {
		return err
	}
	c.HostID, c.Updated = hostID, now
	if failure == "" {
		c.LastReport, c.FailingSince, c.Failures, c.LastError = now, time.Time{}, 0, ""
	} else {
		if c.Failures == 0 {
			c.FailingSince = now
		}
		c.Failures++
		c.LastError = failure
	}
	args := []any{nanos(c.LastReport), nanos(c.FailingSince), c.Failures, c.LastError, nanos(c.Updated), hostID}
	if isNew {
		_, err = tx.ExecContext(ctx, `INSERT INTO contacts (last_report, failing_since, failures, last_error, updated, host_id) VALUES (?, ?, ?, ?, ?, ?)`, args...)
	} else {
		_, err = tx.ExecContext(ctx, `UPDATE contacts SET last_report = ?, failing_since = ?, failures = ?, last_error = ?, updated = ? WHERE host_id = ?`, args...)
	}
	return err
}

// Contact returns a host's record, or ErrNotFound.
func (s *SQLite) Contact(ctx context.Context, hostID string) (Contact, error) {
	return scanContact(s.db.QueryRowContext(ctx, `SELECT `+contactCols+` FROM contacts WHERE host_id = ?`, hostID))
}

func scanContact(row rowScanner) (Contact, error) {
	var c Contact
	var last, since, updated int64
	err := row.Scan(&c.HostID, &last, &since, &c.Failures, &c.LastError, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return c, ErrNotFound
	}
	if err != nil {
		return c, err
	}
	c.LastReport, c.FailingSince, c.Updated = fromNanos(last), fromNanos(since), fromNanos(updated)
	return c, nil
}
