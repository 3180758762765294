package store

import (
	"database/sql"
	"fmt"
)

// Object is one token object's row.
type Object struct {
	ID   int64 // assigned by PutObject for a new object
	Slot uint64
	// Private marks a row whose Attrs the caller sealed: all of the
	// object, key included, in one record that only the token's key
	// opens. Key is then empty.
	Private bool
	Attrs   []byte // the attributes, or the sealed record, encoded by the caller
	Key     []byte // the TPM-wrapped key of a public key object, encoded by the caller
}

const objectColumns = `id, slot, private, attrs, key`

// Objects returns every token object, by id.
func (s *Store) Objects() ([]Object, error) {
	return s.objects(`SELECT ` + objectColumns + ` FROM object ORDER BY id`)
}

// ObjectsOf returns the objects of the token in slot, by id.
func (s *Store) ObjectsOf(slot uint64) ([]Object, error) {
	return s.objects(`SELECT `+objectColumns+` FROM object WHERE slot = ? ORDER BY id`, slot)
}

func (s *Store) objects(query string, args ...any) ([]Object, error) {
	rows, err := s.db.Query(query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Object
	for rows.Next() {
		var o Object
		if err := rows.Scan(&o.ID, &o.Slot, &o.Private, &o.Attrs, &o.Key); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// PutObject stores the row that row makes for an object's id, so that a
// sealed row can bind its id: a new object when id is zero (row learns the
// id it gets, and PutObject returns it), else the existing object id,
// which must keep its slot.
func (s *Store) PutObject(id int64, row func(id int64) (Object, error)) (int64, error) {
	err := s.tx(func(tx *sql.Tx) error {
		if id == 0 {
			// The transaction holds the write lock (_txlock=immediate),
			// so the next AUTOINCREMENT id is this one.
			err := tx.QueryRow(`SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'object'), 0),
				COALESCE((SELECT MAX(id) FROM object), 0)) + 1`).Scan(&id)
			if err != nil {
				return err
			}
			o, err := row(id)
			if err != nil {
				return err
			}
			_, err = tx.Exec(`INSERT INTO object (`+objectColumns+`) VALUES (?, ?, ?, ?, ?)`, id, o.Slot, o.Private, o.Attrs, o.Key)
			return err
		}
		o, err := row(id)
		if err != nil {
			return err
		}
		return updateObject(tx, id, o)
	})
	if err != nil {
		return 0, err
	}
	return id, nil
}

func updateObject(tx *sql.Tx, id int64, o Object) error {
	r, err := tx.Exec(`UPDATE object SET private = ?, attrs = ?, key = ? WHERE id = ? AND slot = ?`, o.Private, o.Attrs, o.Key, id, o.Slot)
	if err != nil {
		return err
	}
	if n, err := r.RowsAffected(); err != nil {
		return err
	} else if n != 1 {
		return fmt.Errorf("object %d of slot %d: %w", id, o.Slot, ErrNotFound)
	}
	return nil
}

// RewriteObjects changes every object of objs in place, in one
// transaction: all of them or none.
func (s *Store) RewriteObjects(objs []Object) error {
	return s.tx(func(tx *sql.Tx) error {
		for _, o := range objs {
			if err := updateObject(tx, o.ID, o); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeleteObject removes the object with id.
func (s *Store) DeleteObject(id int64) error {
	return s.tx(func(tx *sql.Tx) error {
		_, err := tx.Exec(`DELETE FROM object WHERE id = ?`, id)
		return err
	})
}

// ResetToken deletes the token's objects and updates its row in one
// transaction: C_InitToken on an initialised token.
func (s *Store) ResetToken(t Token) error {
	return s.tx(func(tx *sql.Tx) error {
		if _, err := tx.Exec(`DELETE FROM object WHERE slot = ?`, t.Slot); err != nil {
			return err
		}
		return updateToken(tx, t)
	})
}
