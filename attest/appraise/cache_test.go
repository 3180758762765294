package appraise

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"tep.dev/tep/attest/flavor"
	"tep.dev/tep/attest/store"
)

// TestStoredFlavorsChangedRow: the flavors read from a real store are
// checked once and kept for PolicyTTL; a row changed in the store after
// that (same id, the old signature) is caught when the rows are read
// again, though its unchanged neighbour is not checked again.
func TestStoredFlavorsChangedRow(t *testing.T) {
	ctx := context.Background()
	s, err := store.OpenSQLite(filepath.Join(t.TempDir(), "v.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	a := New(Config{Store: s, Key: key, PolicyTTL: 5 * time.Second, Now: func() time.Time { return now }})
	var stored []store.Policy
	for _, body := range []string{
		`{"meta":{"id":"p","flavor_part":"PLATFORM"},"pcrs":[{"pcr":{"index":0,"bank":"sha256"},"measurement":"00","pcr_matches":true}]}`,
		`{"meta":{"id":"o","flavor_part":"OS"},"pcrs":[{"pcr":{"index":8,"bank":"sha256"},"measurement":"00","pcr_matches":true}]}`,
	} {
		id, name, canon, err := a.Check(store.KindFlavor, []byte(body), now)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := a.Sign(store.KindFlavor, canon)
		if err != nil {
			t.Fatal(err)
		}
		p := store.Policy{Kind: store.KindFlavor, ID: id, Name: name, Body: canon, Signature: sig, Created: now}
		if err := s.PutPolicy(ctx, p); err != nil {
			t.Fatal(err)
		}
		stored = append(stored, p)
	}
	byID := func() map[string]*flavor.Checked {
		t.Helper()
		cs, err := a.storedFlavors(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]*flavor.Checked{}
		for _, c := range cs {
			m[c.Flavor.Meta.ID] = c
		}
		return m
	}
	warm := byID()
	if len(warm) != 2 || warm["p"] == nil || warm["p"].Err != nil || warm["o"] == nil || warm["o"].Err != nil {
		t.Fatalf("stored flavors: %v", warm)
	}
	changed := stored[0]
	changed.Body = bytes.Replace(changed.Body, []byte(`"measurement":"00"`), []byte(`"measurement":"01"`), 1)
	if err := s.PutPolicy(ctx, changed); err != nil {
		t.Fatal(err)
	}
	if got := byID(); got["p"] != warm["p"] {
		t.Error("the rows were read again within PolicyTTL")
	}
	now = now.Add(5 * time.Second)
	got := byID()
	if got["p"] == nil || !errors.Is(got["p"].Err, flavor.ErrSignature) {
		t.Errorf("changed row after PolicyTTL: %+v, want ErrSignature", got["p"])
	}
	if got["o"] != warm["o"] {
		t.Error("the unchanged row was checked again")
	}
}
