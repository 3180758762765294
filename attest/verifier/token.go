package verifier

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"tep.dev/tep/attest/store"
)

// tokenPrefix marks TEP verifier tokens, so that a leaked one is easy to
// find in logs and repositories.
const tokenPrefix = "tepv_"

// HashToken is how a token is stored: the hex SHA-256 of its value. A
// token has 256 random bits, so no salt or slow hash is needed.
func HashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// CreateToken makes a token for a role (store.RoleAdmin, RoleAuditor,
// or RoleEnroll for a one-time enrolment token), stores its hash and
// returns its value, which is shown once. ttl 0: no expiry.
func (v *Verifier) CreateToken(ctx context.Context, role string, ttl time.Duration) (string, store.Token, error) {
	switch role {
	case store.RoleAdmin, store.RoleAuditor, store.RoleEnroll:
	default:
		return "", store.Token{}, fmt.Errorf("%w: role %q: admin, auditor or enroll", ErrInvalid, role)
	}
	raw, err := v.random(32)
	if err != nil {
		return "", store.Token{}, err
	}
	value := tokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	id, err := v.newID()
	if err != nil {
		return "", store.Token{}, err
	}
	t := store.Token{ID: id, Hash: HashToken(value), Role: role, Created: v.cfg.Now()}
	if ttl > 0 {
		t.Expires = t.Created.Add(ttl)
	}
	if err := v.cfg.Store.AddToken(ctx, t); err != nil {
		return "", store.Token{}, err
	}
	return value, t, nil
}

// OperatorRole returns the role of an operator's bearer token: admin or
// auditor. Enrolment tokens are not operator tokens.
func (v *Verifier) OperatorRole(ctx context.Context, token string) (string, error) {
	t, err := v.cfg.Store.TokenByHash(ctx, HashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return "", ErrUnauthorized
	}
	if err != nil {
		return "", err
	}
	if t.Role == store.RoleEnroll || (!t.Expires.IsZero() && !v.cfg.Now().Before(t.Expires)) {
		return "", ErrUnauthorized
	}
	return t.Role, nil
}

// newID makes a random row id: 16 bytes in hex.
func (v *Verifier) newID() (string, error) {
	b, err := v.random(16)
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
