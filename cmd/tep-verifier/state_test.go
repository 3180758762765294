package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"tep.dev/tep/internal/cli"
)

// TestStateLock: replicas starting at once on one empty state directory
// all load the one signing key and TLS certificate that one of them
// made. The starts must overlap for the test to mean anything: it
// makes them a few times.
func TestStateLock(t *testing.T) {
	for range 30 {
		startAtOnce(t, t.TempDir())
	}
}

func startAtOnce(t *testing.T, state string) {
	const n = 16
	keys := make([][]byte, n)
	certs := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			err := withStateLock(state, func() error {
				k, err := signingKey(state)
				if err != nil {
					return err
				}
				c, err := tlsCert(state, []string{"127.0.0.1"}, slog.New(slog.DiscardHandler))
				if err != nil {
					return err
				}
				keys[i] = pubDER(t, k)
				certs[i] = leaf(c)
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	k, err := signingKey(state)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tlsCert(state, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if !bytes.Equal(keys[i], pubDER(t, k)) {
			t.Errorf("start %d loaded another signing key than the one on disk", i)
		}
		if !bytes.Equal(certs[i], leaf(c)) {
			t.Errorf("start %d loaded another TLS certificate than the one on disk", i)
		}
	}
}

func pubDER(t *testing.T, k crypto.Signer) []byte {
	b, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func leaf(c tls.Certificate) []byte {
	if len(c.Certificate) == 0 {
		return nil
	}
	return c.Certificate[0]
}

// TestDBFlag: --db names the database for serve and token; one that is
// neither sqlite:PATH nor a postgres:// URL is a usage error.
func TestDBFlag(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	for _, args := range [][]string{
		{"serve", "--state", dir, "--ek-ca", "x", "--db", "mysql://db/tep"},
		{"token", "list", "--state", dir, "--db", "/var/lib/v.db"},
		{"token", "list", "--db", "sqlite:"},
	} {
		var ue *cli.UsageError
		if err := run(ctx, args, &out, &errOut); !errors.As(err, &ue) {
			t.Errorf("run(%q) = %v, want a usage error", args, err)
		}
	}
	// A token made in a named SQLite database is listed from it, and
	// not from the state directory's default one.
	db := "sqlite:" + filepath.Join(dir, "other.db")
	if err := run(ctx, []string{"token", "create", "--db", db, "--role", "admin", "--json"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	var created struct{ ID string }
	if err := json.Unmarshal(out.Bytes(), &created); err != nil || created.ID == "" {
		t.Fatalf("token create printed %q", out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"token", "list", "--db", db}, &out, &errOut); err != nil || !strings.Contains(out.String(), created.ID) {
		t.Errorf("token list --db %s = %v, %q; want %s", db, err, out.String(), created.ID)
	}
	out.Reset()
	if err := run(ctx, []string{"token", "list", "--state", dir}, &out, &errOut); err != nil || strings.Contains(out.String(), created.ID) {
		t.Errorf("token list --state = %v, %q; want no %s", err, out.String(), created.ID)
	}
}
