package server

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tep.dev/tep/p11"
	"tep.dev/tep/tpm/tpmtest"
)

// pinChangesAndRestart changes the user PIN (C_SetPIN) from oldPIN,
// sets it again as the SO (C_InitPIN), makes a token on the free slot
// (C_InitToken), and restarts; it returns the user PIN in force.
func pinChangesAndRestart(t *testing.T, r *rig, oldPIN string) string {
	t.Helper()
	c := r.dial()
	s, err := c.OpenSession(1, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetPIN(s, []byte(oldPIN), []byte("5678")); err != nil {
		t.Fatalf("SetPIN: %v", err)
	}
	if err := c.Login(s, p11.CKU_SO, []byte(soPIN)); err != nil {
		t.Fatal(err)
	}
	if err := c.InitPIN(s, []byte("2468")); err != nil {
		t.Fatalf("InitPIN: %v", err)
	}
	c.Logout(s)
	slots, _ := c.SlotList(true)
	if err := c.InitToken(slots[len(slots)-1], []byte("second-so"), "second"); err != nil {
		t.Fatalf("InitToken on the free slot: %v", err)
	}
	r.restart()
	return "2468"
}

// TestPINChangesKeepObjects: C_SetPIN, C_InitPIN, C_InitToken of the free
// slot and a restart keep every object of the token; on sim and swtpm.
// The first release's INSERT OR REPLACE of the token row took them all.
func TestPINChangesKeepObjects(t *testing.T) {
	for name, spec := range map[string]func(*testing.T) string{
		"sim":   func(*testing.T) string { return "sim" },
		"swtpm": func(t *testing.T) string { return tpmtest.StartSWTPM(t) },
	} {
		t.Run(name, func(t *testing.T) {
			r := newRig(t, spec(t))
			c := r.dial()
			s, _ := c.OpenSession(1, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
			if err := c.Login(s, p11.CKU_USER, []byte(userPIN)); err != nil {
				t.Fatal(err)
			}
			for _, tmpl := range [][]p11.Attribute{dataTemplate("public", true, false), dataTemplate("private", true, true)} {
				if _, err := c.CreateObject(s, tmpl); err != nil {
					t.Fatal(err)
				}
			}
			_, _, err := c.GenerateKeyPair(s, p11.Mechanism{Type: p11.CKM_EC_KEY_PAIR_GEN},
				[]p11.Attribute{attr(p11.CKA_EC_PARAMS, oidP256), attr(p11.CKA_TOKEN, p11.Bool(true)), attr(p11.CKA_LABEL, []byte("ec"))},
				[]p11.Attribute{attr(p11.CKA_TOKEN, p11.Bool(true)), attr(p11.CKA_LABEL, []byte("ec"))})
			if err != nil {
				t.Fatal(err)
			}
			before := tokenObjects(r.srv)

			pin := pinChangesAndRestart(t, r, userPIN)
			c = r.dial()
			s, _ = c.OpenSession(1, p11.CKF_SERIAL_SESSION)
			if err := c.Login(s, p11.CKU_USER, []byte(pin)); err != nil {
				t.Fatal(err)
			}
			sameObjects(t, "after the PIN changes and a restart", tokenObjects(r.srv), before)
			signsP256(t, c, s, "ec")
		})
	}
}

// landedMarker is the CKA_VALUE of the private data object in
// testdata/landed, which the first release (commit 2fbc3a3) wrote:
// tepd init (slot 1, SO PIN 87654321, user PIN 1234, its sample AES key
// and data object), then through its module and pkcs11-tool an EC P-256
// key pair "landed-ec-key", a public data object "landed-public-data" and
// a private one "landed-private-data" holding this marker.
const landedMarker = "landed-private-marker-5d1e9c"

// TestLandedStateUpgrades opens a copy of the first release's state
// directory: every object is there after the first login, a PIN change,
// C_InitPIN, C_InitToken on the free slot and a restart, with the same
// attributes; its key still signs; the private rows were sealed in place
// at the first login, so the marker is in no file; the files are the
// owner's alone.
func TestLandedStateUpgrades(t *testing.T) {
	dir := copyDir(t, filepath.Join("testdata", "landed"))
	if err := os.Chmod(filepath.Join(dir, "tep.db"), 0o644); err != nil { // as the first release left it
		t.Fatal(err)
	}
	if hits := filesHolding(t, dir, []byte(landedMarker)); len(hits) == 0 {
		t.Fatal("the landed state does not hold its marker: the scan below proves nothing")
	}
	r := openRig(t, dir, "sim")
	c := r.dial()
	s, _ := c.OpenSession(1, p11.CKF_SERIAL_SESSION)
	if err := c.Login(s, p11.CKU_USER, []byte(userPIN)); err != nil {
		t.Fatal(err)
	}
	before := tokenObjects(r.srv)
	if len(before) != 6 {
		t.Fatalf("the landed token has %d objects, want 6", len(before))
	}
	signsP256(t, c, s, "landed-ec-key")
	priv := findOne(t, c, s, []p11.Attribute{attr(p11.CKA_LABEL, []byte("landed-private-data"))})
	if v, err := c.AttributeValues(s, priv, []uint64{p11.CKA_VALUE}); err != nil || string(v[0].Value) != landedMarker {
		t.Fatalf("the landed private data object reads %+v, %v", v, err)
	}
	if hits := filesHolding(t, dir, []byte(landedMarker)); len(hits) > 0 {
		t.Errorf("after the first login the landed private marker is still in %v", hits)
	}

	pin := pinChangesAndRestart(t, r, userPIN)
	c = r.dial()
	s, _ = c.OpenSession(1, p11.CKF_SERIAL_SESSION)
	if err := c.Login(s, p11.CKU_USER, []byte(pin)); err != nil {
		t.Fatal(err)
	}
	sameObjects(t, "after the upgrade, the PIN changes and a restart", tokenObjects(r.srv), before)
	signsP256(t, c, s, "landed-ec-key")
	if hits := filesHolding(t, dir, []byte(landedMarker)); len(hits) > 0 {
		t.Errorf("the landed private marker is in %v", hits)
	}
	for _, name := range []string{"tep.db", "tep.db-wal", "tep.db-shm"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v, want 0600", name, fi.Mode().Perm(), err)
		}
	}
	if strings.Contains(r.log.String(), "does not open") {
		t.Errorf("a sealed row did not open:\n%s", r.log)
	}
}

// TestLandedSealingRetried: when sealing the clear private rows of an
// older tepd fails at the first login, the login still succeeds, the
// objects are usable, the failure is logged, and the next login seals
// them.
func TestLandedSealingRetried(t *testing.T) {
	dir := copyDir(t, filepath.Join("testdata", "landed"))
	r := openRig(t, dir, "sim")
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, "tep.db")+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TRIGGER refuse BEFORE UPDATE ON object BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`); err != nil {
		t.Fatal(err)
	}
	c := r.dial()
	s, _ := c.OpenSession(1, p11.CKF_SERIAL_SESSION)
	if err := c.Login(s, p11.CKU_USER, []byte(userPIN)); err != nil {
		t.Fatalf("login while sealing fails: %v", err)
	}
	signsP256(t, c, s, "landed-ec-key")
	if !strings.Contains(r.log.String(), "refused by the test") {
		t.Errorf("the failed sealing is not logged:\n%s", r.log)
	}
	if hits := filesHolding(t, dir, []byte(landedMarker)); len(hits) == 0 {
		t.Fatal("the marker is gone although sealing failed: the check below proves nothing")
	}
	if _, err := db.Exec(`DROP TRIGGER refuse`); err != nil {
		t.Fatal(err)
	}
	db.Close() // a reader would hold the WAL
	c.Logout(s)
	if err := c.Login(s, p11.CKU_USER, []byte(userPIN)); err != nil {
		t.Fatal(err)
	}
	if hits := filesHolding(t, dir, []byte(landedMarker)); len(hits) > 0 {
		t.Errorf("after the second login the landed marker is still in %v", hits)
	}
}
