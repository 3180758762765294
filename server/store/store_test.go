package store

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestTokenRoundTripAndReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tep.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	want := Token{Slot: 1, Label: "tok", Serial: "0001", SOSalt: []byte{1}, SOSeal: []byte{2, 3}, Created: time.Unix(1700000000, 0).UTC()}
	if err := s.AddToken(want); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.Version(); err != nil || v != len(migrations) {
		t.Errorf("Version() = %d, %v, want %d", v, err, len(migrations))
	}
	got, err := s.Token(1)
	if err != nil {
		t.Fatal(err)
	}
	if got.Label != want.Label || got.Serial != want.Serial || string(got.SOSeal) != string(want.SOSeal) ||
		got.UserSeal != nil || !got.Created.Equal(want.Created) {
		t.Errorf("Token(1) = %+v, want %+v", got, want)
	}
	if _, err := s.Token(2); err != ErrNotFound {
		t.Errorf("Token(2) error = %v, want ErrNotFound", err)
	}
	if err := s.AddToken(want); err == nil {
		t.Error("AddToken on a taken slot succeeded")
	}
	got.UserSalt, got.UserSeal = []byte{9}, []byte{8}
	if err := s.UpdateToken(got); err != nil {
		t.Fatal(err)
	}
	all, err := s.Tokens()
	if err != nil || len(all) != 1 || string(all[0].UserSeal) != "\x08" {
		t.Errorf("Tokens() = %+v, %v, want one token with the user seal", all, err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tep.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(`PRAGMA user_version = 99`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(path); err == nil {
		t.Fatal("Open of a database from a newer tepd succeeded")
	}
}

func TestObjects(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tep.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddToken(Token{Slot: 1, Label: "a", Serial: "1", SOSalt: []byte{1}, SOSeal: []byte{1}}); err != nil {
		t.Fatal(err)
	}
	id, err := s.PutObject(0, row(1, "first"))
	if err != nil || id == 0 {
		t.Fatalf("PutObject = %d, %v", id, err)
	}
	id2, _ := s.PutObject(0, row(1, "second"))
	if _, err := s.PutObject(id, row(1, "first, changed")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutObject(999, row(1, "x")); !errors.Is(err, ErrNotFound) {
		t.Errorf("updating a missing object: %v, want ErrNotFound", err)
	}
	if _, err := s.PutObject(id, row(2, "x")); !errors.Is(err, ErrNotFound) {
		t.Errorf("moving an object to another slot: %v, want ErrNotFound", err)
	}
	if err := s.DeleteObject(id2); err != nil {
		t.Fatal(err)
	}
	// The deleted object's id is not handed out again.
	if id3, err := s.PutObject(0, row(1, "third")); err != nil || id3 <= id2 {
		t.Errorf("PutObject after a delete = %d, %v, want an id above %d", id3, err, id2)
	} else {
		s.DeleteObject(id3)
	}
	if _, err := s.PutObject(0, row(7, "orphan")); err == nil {
		t.Error("an object of a token that does not exist was stored")
	}
	if _, err := s.PutObject(0, func(int64) (Object, error) { return Object{}, errors.New("no") }); err == nil {
		t.Error("PutObject stored a row that row failed to make")
	}
	s.Close()
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	objs, err := s.Objects()
	if err != nil || len(objs) != 1 || string(objs[0].Attrs) != "first, changed" {
		t.Fatalf("after reopening: %+v, %v", objs, err)
	}
	if err := s.ResetToken(Token{Slot: 1, Label: "b", Serial: "1", SOSalt: []byte{2}, SOSeal: []byte{2}}); err != nil {
		t.Fatal(err)
	}
	if objs, _ := s.Objects(); len(objs) != 0 {
		t.Errorf("ResetToken left %d objects", len(objs))
	}
	if tok, _ := s.Token(1); tok.Label != "b" {
		t.Errorf("ResetToken did not update the token: %+v", tok)
	}
}

// TestPINCounters: the PIN columns persist, are kept by UpdateToken's update
// of the row, and are refused for a slot with no token.
func TestPINCounters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tep.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	tok := Token{Slot: 1, Label: "tok", Serial: "0001", SOSalt: []byte{1}, SOSeal: []byte{2}, Created: time.Unix(1700000000, 0)}
	if err := s.AddToken(tok); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPINTries(1, 7); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPINFailures(1, false, 2); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPINFailures(1, true, 5); err != nil {
		t.Fatal(err)
	}
	tok.UserSalt, tok.UserSeal = []byte{3}, []byte{4}
	if err := s.UpdateToken(tok); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPINFailures(2, false, 1); err != ErrNotFound {
		t.Errorf("SetPINFailures(no such slot) = %v, want ErrNotFound", err)
	}
	if err := s.SetPINTries(2, 1); err != ErrNotFound {
		t.Errorf("SetPINTries(no such slot) = %v, want ErrNotFound", err)
	}
	s.Close()
	if s, err = Open(path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Token(1)
	if err != nil || got.PINTries != 7 || got.UserPINFails != 2 || got.SOPINFails != 5 || string(got.UserSeal) != "\x04" {
		t.Errorf("after reopen: Token(1) = %+v, %v, want tries 7, fails 2 and 5, the new user seal", got, err)
	}
}

// row makes a plain row of slot with attrs.
func row(slot uint64, attrs string) func(int64) (Object, error) {
	return func(int64) (Object, error) { return Object{Slot: slot, Attrs: []byte(attrs)}, nil }
}
