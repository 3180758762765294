package server

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
	"tep.dev/tep/p11"
	"tep.dev/tep/server/store"
)

// A CKA_PRIVATE token object is stored as one sealed record: its
// attributes and its TPM key (blob and wrapped authorisation) together,
// AES-256-GCM under a key derived from the token key, with the object's
// slot and row id as associated data, so that a row copied onto another
// object or token does not open. The store sees only the slot, the row id
// and the private flag. Public objects stay in clear: PKCS#11 lets anyone
// read them without a login.

// objectKeyInfo is the HKDF info of the record key: the token key also
// wraps key authorisations (wrapAuth), and the two uses get separate keys.
const objectKeyInfo = "tep object record key v1"

// recordAAD is the associated data of a record: its purpose and identity.
const recordAAD = "tep object record v1"

var errRecord = errors.New("sealed object record does not open")

// record is what a sealed row holds.
type record struct {
	Attrs []byte // encodeAttrs
	Key   []byte // keyRef.encode, empty for objects that are not TPM keys
}

func recordKeyAAD(tokenKey []byte, slot uint64, id int64) ([]byte, []byte, error) {
	key, err := hkdf.Key(sha256.New, tokenKey, nil, objectKeyInfo, 32)
	if err != nil {
		return nil, nil, err
	}
	aad := binary.BigEndian.AppendUint64([]byte(recordAAD), slot)
	return key, binary.BigEndian.AppendUint64(aad, uint64(id)), nil
}

// sealRecord seals attrs and key (both encoded) as object id of slot.
func sealRecord(tokenKey []byte, slot uint64, id int64, r record) ([]byte, error) {
	key, aad, err := recordKeyAAD(tokenKey, slot, id)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	plain, err := msgpack.Marshal(&r)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	return aead.Seal(nonce, nonce, plain, aad), nil
}

// openRecord opens what sealRecord sealed for object id of slot.
func openRecord(tokenKey []byte, slot uint64, id int64, sealed []byte) (record, error) {
	var r record
	key, aad, err := recordKeyAAD(tokenKey, slot, id)
	if err != nil {
		return r, err
	}
	defer clear(key)
	aead, err := newAEAD(key)
	if err != nil {
		return r, err
	}
	n := aead.NonceSize()
	if len(sealed) < n+aead.Overhead() {
		return r, errRecord
	}
	plain, err := aead.Open(nil, sealed[:n], sealed[n:], aad)
	if err != nil {
		return r, errRecord
	}
	defer clear(plain)
	if err := msgpack.Unmarshal(plain, &r); err != nil {
		return r, fmt.Errorf("decoding a sealed object record: %w", err)
	}
	return r, nil
}

// storedRow is o's row: sealed under tokenKey if o is private.
func storedRow(o *object, tokenKey []byte) func(id int64) (store.Object, error) {
	return func(id int64) (store.Object, error) {
		attrs, err := encodeAttrs(o.attrs)
		if err != nil {
			return store.Object{}, err
		}
		k, err := o.key.encode()
		if err != nil {
			return store.Object{}, err
		}
		if !o.bool(p11.CKA_PRIVATE) {
			return store.Object{Slot: o.slot, Attrs: attrs, Key: k}, nil
		}
		if tokenKey == nil { // the callers' checks (mayHold) make this unreachable
			return store.Object{}, p11.CKR_USER_NOT_LOGGED_IN
		}
		sealed, err := sealRecord(tokenKey, o.slot, id, record{Attrs: attrs, Key: k})
		return store.Object{Slot: o.slot, Private: true, Attrs: sealed}, err
	}
}

// unlockObjects opens the private objects of the token in slot with its
// token key, at the first login (user or SO) since tepd started: sealed
// rows become objects, and private rows that an older tepd wrote in clear
// are sealed in place, all in one transaction. A row that does not open
// (tampered with, or moved) is logged and skipped. s.mu is held.
func (s *Server) unlockObjects(slot uint64, tokenKey []byte) {
	if s.unlocked[slot] {
		return
	}
	rows, err := s.store.ObjectsOf(slot)
	if err != nil {
		s.log.Error("reading the token's objects at login", "slot", slot, "err", err)
		return
	}
	loaded := map[int64]bool{}
	for _, o := range s.objects {
		if o.id != 0 {
			loaded[o.id] = true
		}
	}
	var plain []store.Object
	for _, r := range rows {
		if !r.Private {
			plain = append(plain, r)
			continue
		}
		if loaded[r.ID] {
			continue
		}
		o, err := openObject(tokenKey, r)
		if err != nil {
			s.log.Error("a private object does not open: its row was changed or moved; skipped",
				"slot", slot, "object", r.ID, "err", err)
			continue
		}
		s.addObject(o)
	}
	if err := s.sealPlainRows(tokenKey, plain); err != nil {
		// The objects stay usable in clear; the next login tries again.
		s.log.Error("sealing the private objects of an older tepd", "slot", slot, "err", err)
		return
	}
	s.unlocked[slot] = true
}

// openObject makes the object of a sealed row.
func openObject(tokenKey []byte, r store.Object) (*object, error) {
	rec, err := openRecord(tokenKey, r.Slot, r.ID, r.Attrs)
	if err != nil {
		return nil, err
	}
	attrs, err := decodeAttrs(rec.Attrs)
	if err != nil {
		return nil, err
	}
	key, err := decodeKeyRef(rec.Key)
	if err != nil {
		return nil, err
	}
	return &object{id: r.ID, slot: r.Slot, attrs: attrs, key: key}, nil
}

// sealPlainRows seals, in one transaction, those of rows (rows in clear)
// that are CKA_PRIVATE: what a tepd before sealed records wrote.
func (s *Server) sealPlainRows(tokenKey []byte, rows []store.Object) error {
	var sealed []store.Object
	for _, r := range rows {
		attrs, err := decodeAttrs(r.Attrs)
		if err != nil {
			return fmt.Errorf("object %d: %w", r.ID, err)
		}
		o := object{attrs: attrs}
		if !o.bool(p11.CKA_PRIVATE) {
			continue
		}
		b, err := sealRecord(tokenKey, r.Slot, r.ID, record{Attrs: r.Attrs, Key: r.Key})
		if err != nil {
			return err
		}
		sealed = append(sealed, store.Object{ID: r.ID, Slot: r.Slot, Private: true, Attrs: b})
	}
	if len(sealed) == 0 {
		return nil
	}
	if err := s.store.RewriteObjects(sealed); err != nil {
		return err
	}
	s.log.Info("sealed the private objects that an older tepd stored in clear", "slot", sealed[0].Slot, "objects", len(sealed))
	// The clear rows' pages, zeroed by secure_delete, leave the WAL and
	// the database now.
	return s.store.Checkpoint()
}
