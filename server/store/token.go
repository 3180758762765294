package store

import (
	"database/sql"
	"errors"
	"time"
)

// Token is one token's row. The seals are TPM-sealed copies of the
// token's key, one per PIN; a salt turns a PIN into the seal's auth.
type Token struct {
	Slot     uint64
	Label    string // 32 bytes, space padded
	Serial   string
	SOSalt   []byte
	SOSeal   []byte
	UserSalt []byte // nil until C_InitPIN
	UserSeal []byte
	Created  time.Time
}

const tokenColumns = `slot, label, serial, so_salt, so_seal, user_salt, user_seal, created`

func scanToken(row interface{ Scan(...any) error }) (Token, error) {
	var t Token
	var created int64
	err := row.Scan(&t.Slot, &t.Label, &t.Serial, &t.SOSalt, &t.SOSeal, &t.UserSalt, &t.UserSeal, &created)
	t.Created = time.Unix(created, 0).UTC()
	return t, err
}

// Tokens returns every token, by slot.
func (s *Store) Tokens() ([]Token, error) {
	rows, err := s.db.Query(`SELECT ` + tokenColumns + ` FROM token ORDER BY slot`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// Token returns the token in slot.
func (s *Store) Token(slot uint64) (Token, error) {
	t, err := scanToken(s.db.QueryRow(`SELECT `+tokenColumns+` FROM token WHERE slot = ?`, slot))
	if errors.Is(err, sql.ErrNoRows) {
		return t, ErrNotFound
	}
	return t, err
}

// PutToken inserts or replaces the token in t.Slot.
func (s *Store) PutToken(t Token) error {
	return s.tx(func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT OR REPLACE INTO token (`+tokenColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			t.Slot, t.Label, t.Serial, t.SOSalt, t.SOSeal, t.UserSalt, t.UserSeal, t.Created.Unix())
		return err
	})
}
