package store

import (
	"database/sql"
	"fmt"
)

// Object is one token object: its attributes, encoded by the caller.
type Object struct {
	ID    int64 // assigned by PutObject for a new object
	Slot  uint64
	Attrs []byte
	Key   []byte // the TPM-wrapped key of a key object, encoded by the caller
}

// Objects returns every token object, by id.
func (s *Store) Objects() ([]Object, error) {
	rows, err := s.db.Query(`SELECT id, slot, attrs, key FROM object ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Object
	for rows.Next() {
		var o Object
		if err := rows.Scan(&o.ID, &o.Slot, &o.Attrs, &o.Key); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// PutObject stores o: a new object when o.ID is zero (and returns its id),
// else it replaces the object with that id.
func (s *Store) PutObject(o Object) (int64, error) {
	id := o.ID
	err := s.tx(func(tx *sql.Tx) error {
		if id == 0 {
			r, err := tx.Exec(`INSERT INTO object (slot, attrs, key) VALUES (?, ?, ?)`, o.Slot, o.Attrs, o.Key)
			if err != nil {
				return err
			}
			id, err = r.LastInsertId()
			return err
		}
		r, err := tx.Exec(`UPDATE object SET attrs = ?, key = ? WHERE id = ?`, o.Attrs, o.Key, id)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n != 1 {
			return fmt.Errorf("object %d: %w", id, ErrNotFound)
		}
		return nil
	})
	return id, err
}

// DeleteObject removes the object with id.
func (s *Store) DeleteObject(id int64) error {
	return s.tx(func(tx *sql.Tx) error {
		_, err := tx.Exec(`DELETE FROM object WHERE id = ?`, id)
		return err
	})
}

// ResetToken replaces the token row and deletes its objects in one
// transaction: C_InitToken on an initialised token.
func (s *Store) ResetToken(t Token) error {
	return s.tx(func(tx *sql.Tx) error {
		if _, err := tx.Exec(`DELETE FROM object WHERE slot = ?`, t.Slot); err != nil {
			return err
		}
		_, err := tx.Exec(`UPDATE token SET label = ?, serial = ?, so_salt = ?, so_seal = ?, user_salt = ?, user_seal = ? WHERE slot = ?`,
			t.Label, t.Serial, t.SOSalt, t.SOSeal, t.UserSalt, t.UserSeal, t.Slot)
		return err
	})
}
