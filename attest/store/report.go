package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// PutPolicy adds or replaces a policy by kind and id, in one upsert
// (ON CONFLICT DO UPDATE: SQLite 3.24 and PostgreSQL 9.5 both take it;
// unlike SQLite's INSERT OR REPLACE, it is portable).
func (s *sqlStore) PutPolicy(ctx context.Context, p Policy) error {
	err := s.exec(ctx, `INSERT INTO policies (kind, id, name, body, signature, created) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (kind, id) DO UPDATE SET name = excluded.name, body = excluded.body, signature = excluded.signature, created = excluded.created`,
		p.Kind, p.ID, p.Name, string(p.Body), b64(p.Signature), nanos(p.Created))
	return err
}

func scanPolicy(row rowScanner) (Policy, error) {
	var p Policy
	var body, sig string
	var created int64
	err := row.Scan(&p.Kind, &p.ID, &p.Name, &body, &sig, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return p, ErrNotFound
	}
	if err != nil {
		return p, err
	}
	p.Body, p.Created = []byte(body), fromNanos(created)
	return p, unb64(sig, &p.Signature)
}

// Policy returns one policy, or ErrNotFound.
func (s *sqlStore) Policy(ctx context.Context, kind, id string) (Policy, error) {
	return scanPolicy(s.conn().QueryRowContext(ctx, `SELECT kind, id, name, body, signature, created FROM policies WHERE kind = ? AND id = ?`, kind, id))
}

// Policies returns every policy of a kind, by name.
func (s *sqlStore) Policies(ctx context.Context, kind string) ([]Policy, error) {
	rows, err := s.conn().QueryContext(ctx, `SELECT kind, id, name, body, signature, created FROM policies WHERE kind = ? ORDER BY name, id`, kind)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ps []Policy
	for rows.Next() {
		p, err := scanPolicy(rows)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, rows.Err()
}

// DeletePolicy removes one policy.
func (s *sqlStore) DeletePolicy(ctx context.Context, kind, id string) error {
	return s.execOne(ctx, `DELETE FROM policies WHERE kind = ? AND id = ?`, kind, id)
}

// AddReport stores a report with the host's new state (Store.AddReport).
func (s *sqlStore) AddReport(ctx context.Context, r Report, prevState, state []byte) error {
	return s.inTx(ctx, func(tx conn) error {
		err := execOne(ctx, tx, `UPDATE hosts SET state = ?, last_report = ?, reported = ? WHERE id = ? AND state = ?`,
			string(state), r.ID, nanos(r.Created), r.HostID, string(prevState))
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("host %q changed during the appraisal: %w", r.HostID, ErrConflict)
		}
		if err != nil {
			return err
		}
		// The host's other challenges are spent: evidence quoted for them
		// may be older than this report, and appraised against its state
		// a clock would seem to go back (Store.AddReport).
		if _, err := tx.ExecContext(ctx, `UPDATE nonces SET used = 1 WHERE host_id = ? AND used = 0`, r.HostID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO reports (id, host_id, created, trusted, body, jws) VALUES (?, ?, ?, ?, ?, ?)`,
			r.ID, r.HostID, nanos(r.Created), boolInt(r.Trusted), string(r.Body), r.JWS)
		return err
	})
}

const reportCols = `id, host_id, created, trusted, body, jws`

func scanReport(row rowScanner) (Report, error) {
	var r Report
	var created int64
	var trusted int
	var body string
	err := row.Scan(&r.ID, &r.HostID, &created, &trusted, &body, &r.JWS)
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNotFound
	}
	r.Created, r.Trusted, r.Body = fromNanos(created), trusted != 0, []byte(body)
	return r, err
}

// Report returns one report, or ErrNotFound.
func (s *sqlStore) Report(ctx context.Context, id string) (Report, error) {
	return scanReport(s.conn().QueryRowContext(ctx, `SELECT `+reportCols+` FROM reports WHERE id = ?`, id))
}

// maxReports bounds one listing.
const maxReports = 1000

// Reports returns the reports q selects, newest first.
func (s *sqlStore) Reports(ctx context.Context, q ReportQuery) ([]Report, error) {
	query, args := `SELECT `+reportCols+` FROM reports WHERE 1 = 1`, []any{}
	if q.HostID != "" {
		query, args = query+` AND host_id = ?`, append(args, q.HostID)
	}
	if !q.Since.IsZero() {
		query, args = query+` AND created >= ?`, append(args, nanos(q.Since))
	}
	if !q.Until.IsZero() {
		query, args = query+` AND created < ?`, append(args, nanos(q.Until))
	}
	limit := q.Limit
	if limit <= 0 || limit > maxReports {
		limit = maxReports
	}
	query, args = query+` ORDER BY created DESC, id DESC LIMIT ?`, append(args, limit)
	return s.reports(ctx, query, args...)
}

// Latest returns every host's newest report, by host id.
func (s *sqlStore) Latest(ctx context.Context) ([]Report, error) {
	return s.reports(ctx, `SELECT r.id, r.host_id, r.created, r.trusted, r.body, r.jws FROM reports r JOIN hosts h ON h.last_report = r.id ORDER BY r.host_id`)
}

func (s *sqlStore) reports(ctx context.Context, query string, args ...any) ([]Report, error) {
	rows, err := s.conn().QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var rs []Report
	for rows.Next() {
		r, err := scanReport(rows)
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	return rs, rows.Err()
}
