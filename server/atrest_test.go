package server

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	_ "github.com/mattn/go-sqlite3" // the tests change rows behind the store's back
	"tep.dev/tep/p11"
)

func marker(t *testing.T, what string) []byte {
	t.Helper()
	b := make([]byte, 12)
	rand.Read(b)
	return []byte("tep-marker-" + what + "-" + hex.EncodeToString(b))
}

// TestNothingPrivateAtRest: the value of a private data object, the label
// and id of a private key and the value of a deleted private object are
// in no file of the state directory, copied while tepd runs (WAL and all)
// and after a restart; a public object's value is, which shows the scan
// finds what is there.
func TestNothingPrivateAtRest(t *testing.T) {
	r := newRig(t, "sim")
	c := r.dial()
	s, _ := c.OpenSession(1, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err := c.Login(s, p11.CKU_USER, []byte(userPIN)); err != nil {
		t.Fatal(err)
	}
	value, label, id, deleted, public := marker(t, "value"), marker(t, "label"), marker(t, "id"), marker(t, "deleted"), marker(t, "public")
	data := func(v []byte, private bool) []p11.Attribute {
		tmpl := dataTemplate("data", true, private)
		return append(tmpl[:len(tmpl)-1], attr(p11.CKA_VALUE, v))
	}
	if _, err := c.CreateObject(s, data(value, true)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateObject(s, data(public, false)); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.GenerateKeyPair(s, p11.Mechanism{Type: p11.CKM_EC_KEY_PAIR_GEN},
		[]p11.Attribute{attr(p11.CKA_EC_PARAMS, oidP256), attr(p11.CKA_TOKEN, p11.Bool(true)), attr(p11.CKA_LABEL, []byte("public half"))},
		[]p11.Attribute{attr(p11.CKA_TOKEN, p11.Bool(true)), attr(p11.CKA_PRIVATE, p11.Bool(true)), attr(p11.CKA_LABEL, label), attr(p11.CKA_ID, id)})
	if err != nil {
		t.Fatal(err)
	}
	gone, err := c.CreateObject(s, data(deleted, true))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.DestroyObject(s, gone); err != nil {
		t.Fatal(err)
	}
	scan := func(when string) {
		t.Helper()
		dir := copyDir(t, r.dir)
		for _, m := range [][]byte{value, label, id, deleted} {
			if hits := filesHolding(t, dir, m); len(hits) > 0 {
				t.Errorf("%s: %s is readable in %v", when, m, hits)
			}
		}
		if hits := filesHolding(t, dir, public); len(hits) == 0 {
			t.Errorf("%s: the public object's value is in no file: the scan finds nothing", when)
		}
	}
	scan("tepd running")
	r.restart()
	c = r.dial()
	s, _ = c.OpenSession(1, p11.CKF_SERIAL_SESSION)
	if err := c.Login(s, p11.CKU_USER, []byte(userPIN)); err != nil {
		t.Fatal(err)
	}
	k := findOne(t, c, s, []p11.Attribute{attr(p11.CKA_LABEL, label)})
	if v, err := c.AttributeValues(s, k, []uint64{p11.CKA_ID}); err != nil || string(v[0].Value) != string(id) {
		t.Errorf("after a restart the private key's id = %+v, %v", v, err)
	}
	scan("after a restart and a login")
}

// TestTamperedRecordsAreSkipped: rows swapped between two private objects
// and a row with a flipped bit do not open; the login still succeeds, the
// intact object is there, and the log names each skipped row.
func TestTamperedRecordsAreSkipped(t *testing.T) {
	r := newRig(t, "sim")
	c := r.dial()
	s, _ := c.OpenSession(1, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err := c.Login(s, p11.CKU_USER, []byte(userPIN)); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"a", "b", "c", "intact"} {
		if _, err := c.CreateObject(s, dataTemplate(l, true, true)); err != nil {
			t.Fatal(err)
		}
	}
	ids := map[string]int64{}
	for id, o := range tokenObjects(r.srv) {
		ids[string(o.attrs[p11.CKA_LABEL])] = id
	}
	r.restart()

	db, err := sql.Open("sqlite3", "file:"+filepath.Join(r.dir, "tep.db")+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// a's record onto b's row and b's onto a's; one bit of c's flipped.
	rec := map[string][]byte{}
	for _, l := range []string{"a", "b", "c"} {
		var b []byte
		if err := db.QueryRow(`SELECT attrs FROM object WHERE id = ?`, ids[l]).Scan(&b); err != nil {
			t.Fatal(err)
		}
		rec[l] = b
	}
	rec["a"], rec["b"] = rec["b"], rec["a"]
	rec["c"][20] ^= 1
	for l, b := range rec {
		if _, err := db.Exec(`UPDATE object SET attrs = ? WHERE id = ?`, b, ids[l]); err != nil {
			t.Fatal(err)
		}
	}

	c = r.dial()
	s, _ = c.OpenSession(1, p11.CKF_SERIAL_SESSION)
	if err := c.Login(s, p11.CKU_USER, []byte(userPIN)); err != nil {
		t.Fatalf("login with tampered rows: %v", err)
	}
	findOne(t, c, s, []p11.Attribute{attr(p11.CKA_LABEL, []byte("intact"))})
	if err := c.FindObjectsInit(s, []p11.Attribute{attr(p11.CKA_CLASS, p11.Ulong(p11.CKO_DATA))}); err != nil {
		t.Fatal(err)
	}
	found, _ := c.FindObjects(s, 10)
	c.FindObjectsFinal(s)
	if len(found) != 1 {
		t.Errorf("found %d data objects, want only the intact one", len(found))
	}
	log := r.log.String()
	for _, l := range []string{"a", "b", "c"} {
		if !strings.Contains(log, "does not open") || !strings.Contains(log, "object="+strconv.FormatInt(ids[l], 10)) {
			t.Errorf("no log line names tampered object %s (%d):\n%s", l, ids[l], log)
		}
	}
	if strings.Contains(log, "object="+strconv.FormatInt(ids["intact"], 10)) {
		t.Errorf("the intact object was logged as tampered:\n%s", log)
	}
}

// TestSOLoginOpensPrivateObjects: after a restart the private objects stay
// sealed until a login; the SO's opens them as the user's would (both
// unseal the same token key).
func TestSOLoginOpensPrivateObjects(t *testing.T) {
	r := newRig(t, "sim")
	c := r.dial()
	s, _ := c.OpenSession(1, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err := c.Login(s, p11.CKU_USER, []byte(userPIN)); err != nil {
		t.Fatal(err)
	}
	for _, private := range []bool{true, false} {
		if _, err := c.CreateObject(s, dataTemplate("x", true, private)); err != nil {
			t.Fatal(err)
		}
	}
	before := tokenObjects(r.srv)
	r.restart()
	if n := len(tokenObjects(r.srv)); n != 1 {
		t.Errorf("before any login the server holds %d token objects, want the public one", n)
	}
	c = r.dial()
	s, _ = c.OpenSession(1, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err := c.Login(s, p11.CKU_SO, []byte(soPIN)); err != nil {
		t.Fatal(err)
	}
	sameObjects(t, "after the SO's login", tokenObjects(r.srv), before)
}

func TestRecordSealing(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	r := record{Attrs: []byte("attrs"), Key: []byte("key")}
	sealed, err := sealRecord(key, 1, 7, r)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := openRecord(key, 1, 7, sealed); err != nil || string(got.Attrs) != "attrs" || string(got.Key) != "key" {
		t.Fatalf("openRecord = %+v, %v", got, err)
	}
	other := append([]byte(nil), key...)
	other[0] ^= 1
	for _, tt := range []struct {
		name   string
		key    []byte
		slot   uint64
		id     int64
		sealed []byte
	}{
		{"another object", key, 1, 8, sealed},
		{"another token", key, 2, 7, sealed},
		{"another token key", other, 1, 7, sealed},
		{"too short", key, 1, 7, sealed[:20]},
		{"empty", key, 1, 7, nil},
	} {
		if _, err := openRecord(tt.key, tt.slot, tt.id, tt.sealed); err == nil {
			t.Errorf("%s: the record opened", tt.name)
		}
	}
	o := &object{slot: 1, attrs: map[uint64][]byte{p11.CKA_PRIVATE: p11.Bool(true)}}
	if _, err := storedRow(o, nil)(1); err != p11.CKR_USER_NOT_LOGGED_IN {
		t.Errorf("a private row without the token key: %v, want CKR_USER_NOT_LOGGED_IN", err)
	}
}
