package store

import (
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
	if err := s.PutToken(want); err != nil {
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
	got.UserSalt, got.UserSeal = []byte{9}, []byte{8}
	if err := s.PutToken(got); err != nil {
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
