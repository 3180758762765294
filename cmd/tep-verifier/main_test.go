package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"tep.dev/tep/internal/cli"
)

func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"frobnicate"}, {"token"}, {"token", "mint", "--state", "x"}, {"serve"}, {"flavors"}, {"templates"}, {"templates", "import", "--from-host", "h"}, {"groups", "frob"}} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, &out, &errOut)
		var ue *cli.UsageError
		if !errors.As(err, &ue) {
			t.Errorf("run(%q) = %v, want a usage error", args, err)
		}
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--help"}, &out, &out); err != nil || !strings.Contains(out.String(), "token create") {
		t.Errorf("--help = %v, %q", err, out.String())
	}
}

// TestToken: create prints a token once, list shows it by id only,
// revoke revokes it, and a role that does not exist is refused.
func TestToken(t *testing.T) {
	state := t.TempDir()
	ctx := context.Background()
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"token", "create", "--state", state, "--role", "auditor", "--json"}, &out, &errOut); err != nil {
		t.Fatalf("token create: %v %s", err, errOut.String())
	}
	var created struct{ ID, Role, Token string }
	if err := json.Unmarshal(out.Bytes(), &created); err != nil || created.Role != "auditor" || !strings.HasPrefix(created.Token, "tepv_") {
		t.Fatalf("token create printed %q (%v)", out.String(), err)
	}
	out.Reset()
	if err := run(ctx, []string{"token", "list", "--state", state}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), created.ID) || strings.Contains(out.String(), created.Token) {
		t.Errorf("token list = %q: want the id and not the token", out.String())
	}
	if err := run(ctx, []string{"token", "revoke", "--state", state, created.ID}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	run(ctx, []string{"token", "list", "--state", state, "--json"}, &out, &errOut)
	var rows []struct {
		ID      string
		Revoked bool
	}
	if json.Unmarshal(out.Bytes(), &rows); len(rows) != 1 || !rows[0].Revoked {
		t.Errorf("after revoke: %q", out.String())
	}
	if err := run(ctx, []string{"token", "revoke", "--state", state, "nope"}, &out, &errOut); err == nil {
		t.Error("revoking an unknown token succeeded")
	}
	if err := run(ctx, []string{"token", "create", "--state", state, "--role", "root"}, &out, &errOut); err == nil {
		t.Error("a token for role root was made")
	}
}
