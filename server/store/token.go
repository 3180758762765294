package store

import (
	"database/sql"
	"errors"
	"fmt"
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
	// PINTries is how many wrong PINs in a row lock a PIN; 0 means the
	// server's default. Set with SetPINTries.
	PINTries int
	// UserPINFails and SOPINFails count wrong PINs since the PIN last
	// opened the token. Set with SetPINFailures; other writes keep them.
	UserPINFails, SOPINFails int
	// MinRSABits is the smallest RSA modulus the token makes or imports;
	// 0 means the server's default. Set with SetMinRSABits.
	MinRSABits int
	// PublicSeal is the TPM-sealed key that wraps the authorisations of
	// the token's CKA_PRIVATE=FALSE keys; it needs no PIN. Set with
	// SetPublicSeal.
	PublicSeal []byte
}

const tokenColumns = `slot, label, serial, so_salt, so_seal, user_salt, user_seal, created`

// pinColumns, with the token's policy, are read with tokenColumns and
// written only by their own UPDATEs, so that no other write of the row
// resets them.
const pinColumns = `pin_tries, user_pin_fails, so_pin_fails, min_rsa_bits, public_seal`

func scanToken(row interface{ Scan(...any) error }) (Token, error) {
	var t Token
	var created int64
	err := row.Scan(&t.Slot, &t.Label, &t.Serial, &t.SOSalt, &t.SOSeal, &t.UserSalt, &t.UserSeal, &created,
		&t.PINTries, &t.UserPINFails, &t.SOPINFails, &t.MinRSABits, &t.PublicSeal)
	t.Created = time.Unix(created, 0).UTC()
	return t, err
}

// Tokens returns every token, by slot.
func (s *Store) Tokens() ([]Token, error) {
	rows, err := s.db.Query(`SELECT ` + tokenColumns + `, ` + pinColumns + ` FROM token ORDER BY slot`)
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
	t, err := scanToken(s.db.QueryRow(`SELECT `+tokenColumns+`, `+pinColumns+` FROM token WHERE slot = ?`, slot))
	if errors.Is(err, sql.ErrNoRows) {
		return t, ErrNotFound
	}
	return t, err
}

// AddToken inserts the token in t.Slot, which must be free.
func (s *Store) AddToken(t Token) error {
	return s.tx(func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO token (`+tokenColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			t.Slot, t.Label, t.Serial, t.SOSalt, t.SOSeal, t.UserSalt, t.UserSeal, t.Created.Unix())
		return err
	})
}

// SetPINFailures sets the count of wrong PINs of the SO (so) or the user
// of the token in slot.
func (s *Store) SetPINFailures(slot uint64, so bool, n int) error {
	col := "user_pin_fails"
	if so {
		col = "so_pin_fails"
	}
	return s.update(`UPDATE token SET `+col+` = ? WHERE slot = ?`, n, slot)
}

// SetPINTries sets how many wrong PINs in a row lock a PIN of the token
// in slot.
func (s *Store) SetPINTries(slot uint64, n int) error {
	return s.update(`UPDATE token SET pin_tries = ? WHERE slot = ?`, n, slot)
}

// SetMinRSABits sets the smallest RSA modulus the token in slot makes or
// imports.
func (s *Store) SetMinRSABits(slot uint64, bits int) error {
	return s.update(`UPDATE token SET min_rsa_bits = ? WHERE slot = ?`, bits, slot)
}

// SetPublicSeal stores the sealed public key of the token in slot.
func (s *Store) SetPublicSeal(slot uint64, sealed []byte) error {
	return s.update(`UPDATE token SET public_seal = ? WHERE slot = ?`, sealed, slot)
}

// update runs one UPDATE of one token row: ErrNotFound if there is none.
func (s *Store) update(query string, args ...any) error {
	return s.tx(func(tx *sql.Tx) error {
		res, err := tx.Exec(query, args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// UpdateToken changes the token in t.Slot in place (a new PIN, a new
// label), leaving its objects alone. Created never changes.
func (s *Store) UpdateToken(t Token) error {
	return s.tx(func(tx *sql.Tx) error {
		return updateToken(tx, t)
	})
}

func updateToken(tx *sql.Tx, t Token) error {
	r, err := tx.Exec(`UPDATE token SET label = ?, serial = ?, so_salt = ?, so_seal = ?, user_salt = ?, user_seal = ? WHERE slot = ?`,
		t.Label, t.Serial, t.SOSalt, t.SOSeal, t.UserSalt, t.UserSeal, t.Slot)
	if err != nil {
		return err
	}
	if n, err := r.RowsAffected(); err != nil {
		return err
	} else if n != 1 {
		return fmt.Errorf("token in slot %d: %w", t.Slot, ErrNotFound)
	}
	return nil
}
