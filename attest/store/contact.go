package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"tep.dev/tep/attest"
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
// for one that stored a report, else why it did not. It is one
// statement (an upsert both databases run), so replicas recording the
// same host at once do not collide.
func (s *sqlStore) RecordContact(ctx context.Context, hostID string, now time.Time, failure string) error {
	failure = attest.Clip(failure, maxContactError)
	c := Contact{HostID: hostID, LastError: failure, Updated: now}
	if failure == "" {
		c.LastReport = now
	} else {
		c.FailingSince, c.Failures = now, 1
	}
	err := s.exec(ctx, `INSERT INTO contacts (`+contactCols+`) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (host_id) DO UPDATE SET
			last_report = CASE WHEN excluded.failures = 0 THEN excluded.last_report ELSE contacts.last_report END,
			failing_since = CASE WHEN excluded.failures = 0 THEN 0 WHEN contacts.failures = 0 THEN excluded.failing_since ELSE contacts.failing_since END,
			failures = CASE WHEN excluded.failures = 0 THEN 0 ELSE contacts.failures + 1 END,
			last_error = excluded.last_error,
			updated = excluded.updated`,
		c.HostID, nanos(c.LastReport), nanos(c.FailingSince), c.Failures, c.LastError, nanos(c.Updated))
	return err
}

// Contact returns a host's record, or ErrNotFound.
func (s *sqlStore) Contact(ctx context.Context, hostID string) (Contact, error) {
	return scanContact(s.conn().QueryRowContext(ctx, `SELECT `+contactCols+` FROM contacts WHERE host_id = ?`, hostID))
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
