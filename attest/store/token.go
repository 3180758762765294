package store

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// AddNonce records a nonce and keeps the host's newest keep unspent
// ones (Store.AddNonce).
func (s *sqlStore) AddNonce(ctx context.Context, hostID string, nonce []byte, now, expires time.Time, keep int) error {
	return s.inTx(ctx, func(tx conn) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO nonces (nonce, host_id, expires, used) VALUES (?, ?, ?, 0)`,
			hex.EncodeToString(nonce), hostID, nanos(expires))
		if err != nil {
			return fmt.Errorf("adding nonce: %w", err)
		}
		var n int
		err = tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM nonces WHERE host_id = ? AND used = 0 AND expires > ?`, hostID, nanos(now)).Scan(&n)
		if err != nil || n <= keep {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM nonces WHERE nonce IN (
			SELECT nonce FROM nonces WHERE host_id = ? AND used = 0 ORDER BY expires, nonce LIMIT ?)`, hostID, n-keep)
		return err
	})
}

// UseNonce spends a nonce once (Store.UseNonce). A spent nonce stays
// until it expires, so that a replay finds it spent rather than unknown.
func (s *sqlStore) UseNonce(ctx context.Context, hostID string, nonce []byte, now time.Time) error {
	return s.inTx(ctx, func(tx conn) error {
		// Expired rows that another transaction is deleting are left to
		// it (SKIP LOCKED on PostgreSQL): two replicas deleting one set
		// in different orders would deadlock.
		if _, err := tx.ExecContext(ctx, `DELETE FROM nonces WHERE nonce IN (
			SELECT nonce FROM nonces WHERE expires <= ?`+s.d.lockRows+`)`, nanos(now)); err != nil {
			return err
		}
		err := execOne(ctx, tx, `UPDATE nonces SET used = 1 WHERE nonce = ? AND host_id = ? AND used = 0 AND expires > ?`,
			hex.EncodeToString(nonce), hostID, nanos(now))
		if errors.Is(err, ErrNotFound) {
			return ErrUsed
		}
		return err
	})
}

// PendingNonces counts a host's unspent, unexpired nonces.
func (s *sqlStore) PendingNonces(ctx context.Context, hostID string, now time.Time) (int, error) {
	var n int
	err := s.conn().QueryRowContext(ctx, `SELECT COUNT(*) FROM nonces WHERE host_id = ? AND used = 0 AND expires > ?`, hostID, nanos(now)).Scan(&n)
	return n, err
}

const tokenCols = `id, hash, role, created, expires, revoked, used_by`

// AddToken stores a token by its hash.
func (s *sqlStore) AddToken(ctx context.Context, t Token) error {
	err := s.exec(ctx, `INSERT INTO tokens (`+tokenCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.Hash, t.Role, nanos(t.Created), nanos(t.Expires), boolInt(t.Revoked), t.UsedBy)
	if err != nil {
		return fmt.Errorf("adding token: %w", err)
	}
	return nil
}

func scanToken(row rowScanner) (Token, error) {
	var t Token
	var created, expires int64
	var revoked int
	err := row.Scan(&t.ID, &t.Hash, &t.Role, &created, &expires, &revoked, &t.UsedBy)
	if errors.Is(err, sql.ErrNoRows) {
		return t, ErrNotFound
	}
	t.Created, t.Expires, t.Revoked = fromNanos(created), fromNanos(expires), revoked != 0
	return t, err
}

// TokenByHash returns an unrevoked token, or ErrNotFound.
func (s *sqlStore) TokenByHash(ctx context.Context, hash string) (Token, error) {
	return scanToken(s.conn().QueryRowContext(ctx, `SELECT `+tokenCols+` FROM tokens WHERE hash = ? AND revoked = 0`, hash))
}

// RevokeToken revokes a token by id.
func (s *sqlStore) RevokeToken(ctx context.Context, id string) error {
	return s.execOne(ctx, `UPDATE tokens SET revoked = 1 WHERE id = ?`, id)
}

// Tokens lists every token, oldest first.
func (s *sqlStore) Tokens(ctx context.Context) ([]Token, error) {
	rows, err := s.conn().QueryContext(ctx, `SELECT `+tokenCols+` FROM tokens ORDER BY created, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ts []Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	return ts, rows.Err()
}

// UseEnrollToken spends a one-time enrolment token for hostID.
func (s *sqlStore) UseEnrollToken(ctx context.Context, hash, hostID string, now time.Time) error {
	err := s.execOne(ctx, `UPDATE tokens SET used_by = ? WHERE hash = ? AND role = ? AND revoked = 0 AND used_by = '' AND (expires = 0 OR expires > ?)`,
		hostID, hash, RoleEnroll, nanos(now))
	if errors.Is(err, ErrNotFound) {
		return ErrUsed
	}
	return err
}

// AllowEK puts an EK hash on the allow list; one already there is no
// error.
func (s *sqlStore) AllowEK(ctx context.Context, ekHash string) error {
	err := s.exec(ctx, `INSERT INTO ek_allow (ek_hash) VALUES (?) ON CONFLICT (ek_hash) DO NOTHING`, ekHash)
	return err
}

// EKAllowed says whether an EK hash is on the allow list.
func (s *sqlStore) EKAllowed(ctx context.Context, ekHash string) (bool, error) {
	var n int
	err := s.conn().QueryRowContext(ctx, `SELECT COUNT(*) FROM ek_allow WHERE ek_hash = ?`, ekHash).Scan(&n)
	return n > 0, err
}
