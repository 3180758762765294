package store

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestTokenUpdateKeepsObjects: changing a token's row (a PIN change) keeps
// its objects, across a reopen; and no statement, not even a stray
// INSERT OR REPLACE, can take a token's objects along with its row.
func TestTokenUpdateKeepsObjects(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tep.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	tok := Token{Slot: 1, Label: "a", Serial: "1", SOSalt: []byte{1}, SOSeal: []byte{1}}
	if err := s.AddToken(tok); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutObject(0, row(1, "kept")); err != nil {
		t.Fatal(err)
	}
	tok.UserSalt, tok.UserSeal = []byte{2}, []byte{3}
	if err := s.UpdateToken(tok); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateToken(Token{Slot: 9, Label: "x", Serial: "9", SOSalt: []byte{1}, SOSeal: []byte{1}}); err == nil {
		t.Error("UpdateToken of a missing token succeeded")
	}
	_, err = s.db.Exec(`INSERT OR REPLACE INTO token (` + tokenColumns + `) VALUES (1, 'b', '1', x'01', x'01', NULL, NULL, 0)`)
	if err == nil {
		t.Error("INSERT OR REPLACE of a token with objects succeeded")
	}
	s.Close()
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	objs, err := s.ObjectsOf(1)
	if err != nil || len(objs) != 1 || string(objs[0].Attrs) != "kept" {
		t.Fatalf("after a token update and a reopen: objects %+v, %v, want the one", objs, err)
	}
	if got, _ := s.Token(1); string(got.UserSeal) != "\x03" || got.Label != "a" {
		t.Errorf("token after the refused replace = %+v", got)
	}
}

// TestModesAndSecureDelete: the database and its WAL and SHM are the
// owner's only, its directory too, also when an older tepd left them
// readable; deleted content is overwritten.
func TestModesAndSecureDelete(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "tep.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddToken(Token{Slot: 1, Label: "a", Serial: "1", SOSalt: []byte{1}, SOSeal: []byte{1}}); err != nil {
		t.Fatal(err)
	}
	var secure int
	if err := s.db.QueryRow(`PRAGMA secure_delete`).Scan(&secure); err != nil || secure != 1 {
		t.Errorf("PRAGMA secure_delete = %d, %v, want 1", secure, err)
	}
	wantModes(t, dir, path)
	s.Close()

	// An install that left everything readable is fixed at open.
	for _, p := range []string{dir, path} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	wantModes(t, dir, path)
}

func wantModes(t *testing.T, dir, path string) {
	t.Helper()
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("state directory mode = %v, %v, want 0700", fi.Mode().Perm(), err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
		} else if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %v, want 0600", filepath.Base(p), fi.Mode().Perm())
		}
	}
}

// TestLandedDatabaseMigrates opens a copy of a database that the first
// released tepd wrote (testdata/landed in the server package): every
// object keeps its id, and the AUTOINCREMENT counter goes on from there.
func TestLandedDatabaseMigrates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tep.db")
	copyFile(t, filepath.Join("..", "testdata", "landed", "tep.db"), path)
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	objs, err := s.Objects()
	if err != nil || len(objs) != 6 {
		t.Fatalf("landed objects: %d, %v, want 6", len(objs), err)
	}
	for i, o := range objs {
		if o.ID != int64(i+1) || o.Slot != 1 || o.Private || len(o.Attrs) == 0 {
			t.Errorf("landed object %d = id %d slot %d private %v", i, o.ID, o.Slot, o.Private)
		}
	}
	id, err := s.PutObject(0, row(1, "new"))
	if err != nil || id != 7 {
		t.Errorf("first new object: id %d, %v, want 7", id, err)
	}
	_, err = s.db.Exec(`INSERT OR REPLACE INTO token (` + tokenColumns + `) VALUES (1, 'b', '1', x'01', x'01', NULL, NULL, 0)`)
	if err == nil {
		t.Error("after the migration, INSERT OR REPLACE of a token with objects succeeded")
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenAndRewriteFailures(t *testing.T) {
	if _, err := Open(filepath.Join(t.TempDir(), "missing", "tep.db")); err == nil {
		t.Error("Open in a directory that does not exist succeeded")
	}
	s, err := Open(filepath.Join(t.TempDir(), "tep.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.AddToken(Token{Slot: 1, Label: "a", Serial: "1", SOSalt: []byte{1}, SOSeal: []byte{1}}); err != nil {
		t.Fatal(err)
	}
	id, _ := s.PutObject(0, row(1, "plain"))
	// All or nothing: the second row does not exist, so the first keeps
	// its old content.
	err = s.RewriteObjects([]Object{{ID: id, Slot: 1, Private: true, Attrs: []byte("sealed")}, {ID: 99, Slot: 1, Attrs: []byte("x")}})
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("RewriteObjects with a missing row: %v, want ErrNotFound", err)
	}
	if objs, _ := s.ObjectsOf(1); len(objs) != 1 || string(objs[0].Attrs) != "plain" || objs[0].Private {
		t.Errorf("after a failed rewrite: %+v", objs)
	}
	if err := s.RewriteObjects([]Object{{ID: id, Slot: 1, Private: true, Attrs: []byte("sealed")}}); err != nil {
		t.Fatal(err)
	}
	if objs, _ := s.ObjectsOf(1); len(objs) != 1 || string(objs[0].Attrs) != "sealed" || !objs[0].Private {
		t.Errorf("after a rewrite: %+v", objs)
	}
	if err := s.Checkpoint(); err != nil {
		t.Error(err)
	}
}
