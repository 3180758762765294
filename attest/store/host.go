package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

const enrollmentCols = `id, host_id, ek_hash, ek_public, ek_cert, ak_public, ak_name, secret_hash, facts, pull_url, pull_cert, status, created, expires`

// CreateEnrollment adds a pending enrolment; it also drops enrolments
// that expired, so abandoned ones do not pile up.
func (s *sqlStore) CreateEnrollment(ctx context.Context, e Enrollment) error {
	return s.inTx(ctx, func(tx conn) error {
		// SKIP LOCKED on PostgreSQL, as in UseNonce.
		if _, err := tx.ExecContext(ctx, `DELETE FROM enrollments WHERE id IN (
			SELECT id FROM enrollments WHERE status = ? AND expires < ?`+s.d.lockRows+`)`, EnrollPending, nanos(e.Created)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO enrollments (`+enrollmentCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.ID, e.HostID, e.EKHash, b64(e.EKPublic), b64(e.EKCert), b64(e.AKPublic), b64(e.AKName), b64(e.SecretHash),
			factsJSON(e.Facts), e.PullURL, b64(e.PullCert), EnrollPending, nanos(e.Created), nanos(e.Expires))
		if err != nil {
			return fmt.Errorf("adding enrolment: %w", err)
		}
		return nil
	})
}

// Enrollment returns an enrolment, or ErrNotFound.
func (s *sqlStore) Enrollment(ctx context.Context, id string) (Enrollment, error) {
	return scanEnrollment(s.conn().QueryRowContext(ctx, `SELECT `+enrollmentCols+` FROM enrollments WHERE id = ?`, id))
}

// RecentEnrollments counts an EK's enrolments made since then, pending
// or activated (Store.RecentEnrollments).
func (s *sqlStore) RecentEnrollments(ctx context.Context, ekHash string, since time.Time) (int, error) {
	var n int
	err := s.conn().QueryRowContext(ctx, `SELECT COUNT(*) FROM enrollments WHERE ek_hash = ? AND created > ?`,
		ekHash, nanos(since)).Scan(&n)
	return n, err
}

// PendingEnrollments returns a host's pending, unexpired enrolments.
func (s *sqlStore) PendingEnrollments(ctx context.Context, hostID string, now time.Time) ([]Enrollment, error) {
	rows, err := s.conn().QueryContext(ctx, `SELECT `+enrollmentCols+` FROM enrollments WHERE host_id = ? AND status = ? AND expires > ? ORDER BY created DESC, id`,
		hostID, EnrollPending, nanos(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var es []Enrollment
	for rows.Next() {
		e, err := scanEnrollment(rows)
		if err != nil {
			return nil, err
		}
		es = append(es, e)
	}
	return es, rows.Err()
}

func scanEnrollment(row rowScanner) (Enrollment, error) {
	var e Enrollment
	var ekPub, ekCert, akPub, akName, secret, facts, pullCert string
	var created, expires int64
	err := row.Scan(&e.ID, &e.HostID, &e.EKHash, &ekPub, &ekCert, &akPub, &akName, &secret, &facts, &e.PullURL, &pullCert, &e.Status, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return e, ErrNotFound
	}
	if err != nil {
		return e, err
	}
	e.Created, e.Expires = fromNanos(created), fromNanos(expires)
	if err := unb64(ekPub, &e.EKPublic, ekCert, &e.EKCert, akPub, &e.AKPublic, akName, &e.AKName, secret, &e.SecretHash, pullCert, &e.PullCert); err != nil {
		return e, err
	}
	return e, parseFacts(facts, &e.Facts)
}

// Activate binds a pending enrolment's AK to its host (Store.Activate).
func (s *sqlStore) Activate(ctx context.Context, id string, now time.Time) (Host, error) {
	var h Host
	err := s.inTx(ctx, func(tx conn) error {
		e, err := scanEnrollment(tx.QueryRowContext(ctx, `SELECT `+enrollmentCols+` FROM enrollments WHERE id = ?`, id))
		if err != nil {
			return err
		}
		if e.Status != EnrollPending || !now.Before(e.Expires) {
			return ErrUsed
		}
		// Conditional, so that of two activations at once (two replicas)
		// only one finds the enrolment pending.
		err = execOne(ctx, tx, `UPDATE enrollments SET status = ? WHERE id = ? AND status = ?`, EnrollActivated, id, EnrollPending)
		if errors.Is(err, ErrNotFound) {
			return ErrUsed
		} else if err != nil {
			return err
		}
		h, err = scanHost(tx.QueryRowContext(ctx, `SELECT `+hostCols+` FROM hosts WHERE id = ?`, e.HostID))
		switch {
		case errors.Is(err, ErrNotFound):
			h = Host{ID: e.HostID, EKHash: e.EKHash, EKPublic: e.EKPublic, EKCert: e.EKCert, Created: now}
			if err := insertHost(ctx, tx, h); err != nil {
				return err
			}
		case err != nil:
			return err
		case h.EKHash != e.EKHash:
			return fmt.Errorf("host %q is bound to another EK: %w", h.ID, ErrConflict)
		}
		// A new AK starts a new history of quote counters and IMA replay.
		h.AKPublic, h.AKName, h.Facts, h.PullURL, h.PullCert, h.Activated, h.State = e.AKPublic, e.AKName, e.Facts, e.PullURL, e.PullCert, now, nil
		_, err = tx.ExecContext(ctx, `UPDATE hosts SET ak_public = ?, ak_name = ?, facts = ?, pull_url = ?, pull_cert = ?, activated = ?, state = ? WHERE id = ?`,
			b64(h.AKPublic), b64(h.AKName), factsJSON(h.Facts), h.PullURL, b64(h.PullCert), nanos(now), "", h.ID)
		return err
	})
	return h, err
}

const hostCols = `id, ek_hash, ek_public, ek_cert, ak_public, ak_name, facts, pull_url, pull_cert, flavor_group, state, last_report, created, activated`

func insertHost(ctx context.Context, tx conn, h Host) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO hosts (`+hostCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		h.ID, h.EKHash, b64(h.EKPublic), b64(h.EKCert), b64(h.AKPublic), b64(h.AKName), factsJSON(h.Facts),
		h.PullURL, b64(h.PullCert), h.FlavorGroup, string(h.State), h.LastReport, nanos(h.Created), nanos(h.Activated))
	if err != nil && tx.d.unique(err) {
		// The EK is unique: one EK is one host.
		return fmt.Errorf("adding host %q (is its EK enrolled under another name?): %w", h.ID, ErrConflict)
	}
	return err
}

type rowScanner interface{ Scan(dest ...any) error }

func scanHost(row rowScanner) (Host, error) {
	var h Host
	var ekPub, ekCert, akPub, akName, facts, pullCert, state string
	var created, activated int64
	err := row.Scan(&h.ID, &h.EKHash, &ekPub, &ekCert, &akPub, &akName, &facts, &h.PullURL, &pullCert, &h.FlavorGroup, &state, &h.LastReport, &created, &activated)
	if errors.Is(err, sql.ErrNoRows) {
		return h, ErrNotFound
	}
	if err != nil {
		return h, err
	}
	h.Created, h.Activated = fromNanos(created), fromNanos(activated)
	if state != "" {
		h.State = []byte(state)
	}
	if err := unb64(ekPub, &h.EKPublic, ekCert, &h.EKCert, akPub, &h.AKPublic, akName, &h.AKName, pullCert, &h.PullCert); err != nil {
		return h, err
	}
	return h, parseFacts(facts, &h.Facts)
}

// Host returns a host, or ErrNotFound.
func (s *sqlStore) Host(ctx context.Context, id string) (Host, error) {
	return scanHost(s.conn().QueryRowContext(ctx, `SELECT `+hostCols+` FROM hosts WHERE id = ?`, id))
}

// Hosts returns every host by id.
func (s *sqlStore) Hosts(ctx context.Context) ([]Host, error) {
	rows, err := s.conn().QueryContext(ctx, `SELECT `+hostCols+` FROM hosts ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var hs []Host
	for rows.Next() {
		h, err := scanHost(rows)
		if err != nil {
			return nil, err
		}
		hs = append(hs, h)
	}
	return hs, rows.Err()
}

// SetFlavorGroup assigns a host's flavor group.
func (s *sqlStore) SetFlavorGroup(ctx context.Context, hostID, group string) error {
	return s.execOne(ctx, `UPDATE hosts SET flavor_group = ? WHERE id = ?`, group, hostID)
}

// DeleteHost removes a host, its reports and its nonces.
func (s *sqlStore) DeleteHost(ctx context.Context, id string) error {
	return s.inTx(ctx, func(tx conn) error {
		if err := execOne(ctx, tx, `DELETE FROM hosts WHERE id = ?`, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM reports WHERE host_id = ?`, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM contacts WHERE host_id = ?`, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM nonces WHERE host_id = ?`, id)
		return err
	})
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// execOne runs a statement that must change exactly one row, else
// ErrNotFound.
func execOne(ctx context.Context, db execer, query string, args ...any) error {
	res, err := db.ExecContext(ctx, query, args...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n != 1 {
		return ErrNotFound
	}
	return nil
}
