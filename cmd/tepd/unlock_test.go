package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"tep.dev/tep/p11"
	"tep.dev/tep/server"
)

// TestUnlockSO: an SO PIN locked by wrong tries (through the server, as
// C_Login would) stays locked across a restart, and tepd unlock-so on the
// stopped state directory gives it its tries back.
func TestUnlockSO(t *testing.T) {
	state := t.TempDir()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"init", "--state", state, "--tpm", "sim", "--so-pin", "87654321", "--user-pin", "1234", "--pin-tries", "2"}, &out, &out); err != nil {
		t.Fatalf("init: %v\n%s", err, out.String())
	}
	// setUserPIN opens the token with soPIN, as C_Login(CKU_SO) does.
	setUserPIN := func(soPIN string) error {
		t.Helper()
		b, err := openBackends(state, "sim")
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		if err := b.tpm.SetDictionaryAttack(100, 1000, 1000, nil); err != nil {
			t.Fatal(err)
		}
		srv, err := server.New(b.tpm, b.store, server.Config{Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		return srv.SetUserPIN(1, []byte(soPIN), []byte("5678"))
	}
	for i, want := range []p11.RV{p11.CKR_PIN_INCORRECT, p11.CKR_PIN_INCORRECT, p11.CKR_PIN_LOCKED} {
		if err := setUserPIN("00000000"); !errors.Is(err, want) {
			t.Fatalf("wrong SO PIN %d: %v, want %v", i+1, err, want)
		}
	}
	if err := setUserPIN("87654321"); !errors.Is(err, p11.CKR_PIN_LOCKED) {
		t.Fatalf("right SO PIN while locked: %v, want CKR_PIN_LOCKED", err)
	}
	out.Reset()
	if err := run(context.Background(), []string{"unlock-so", "--state", state, "--slot", "9"}, &out, &out); err == nil {
		t.Error("unlock-so on an empty slot succeeded")
	}
	// A running tepd holds the state, and its counts in memory.
	b, err := openBackends(state, "sim")
	if err != nil {
		t.Fatal(err)
	}
	err = run(context.Background(), []string{"unlock-so", "--state", state}, &out, &out)
	b.Close()
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("unlock-so on a held state directory: %v, want a refusal naming the holder", err)
	}
	if err := run(context.Background(), []string{"unlock-so", "--state", state}, &out, &out); err != nil {
		t.Fatalf("unlock-so: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "had 2 wrong tries") {
		t.Errorf("unlock-so said %q", out.String())
	}
	if err := setUserPIN("87654321"); err != nil {
		t.Fatalf("right SO PIN after unlock-so: %v", err)
	}
}
