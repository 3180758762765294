package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"tep.dev/tep/attest/store"
	"tep.dev/tep/attest/verifier"
	"tep.dev/tep/internal/cli"
)

// dbFile is the verifier's SQLite database in its state directory,
// unless --db names another database.
const dbFile = "verifier.db"

// dbEnv is --db's default: a postgres:// URL with a password is better
// kept out of the command line, which any local user can read.
const dbEnv = "TEP_VERIFIER_DB"

// openStore opens the database db names (store.Open), or the SQLite
// database in the state directory when db is empty.
func openStore(ctx context.Context, db, state string) (store.Store, error) {
	if db == "" {
		if state == "" {
			return nil, cli.Usagef("--state is required")
		}
		db = "sqlite:" + filepath.Join(state, dbFile)
	}
	s, err := store.Open(ctx, db)
	if errors.Is(err, store.ErrDSN) {
		return nil, cli.Usagef("--db %q: want sqlite:PATH or postgres://...", db)
	}
	return s, err
}

func runToken(ctx context.Context, args []string, std cli.IO) error {
	stdout, stderr := std.Out, std.Err
	if len(args) == 0 || (args[0] != "create" && args[0] != "revoke" && args[0] != "list") {
		return cli.Usagef("token: create, revoke or list")
	}
	fs := flag.NewFlagSet("token "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	state := fs.String("state", "", "the verifier's state directory")
	db := fs.String("db", os.Getenv(dbEnv), "the verifier's database: sqlite:PATH or postgres://... ("+dbEnv+"; default: the SQLite database in --state)")
	role := fs.String("role", "", "admin, auditor, or enroll (a one-time enrolment token)")
	ttl := fs.Duration("ttl", 0, "lifetime; 0: none (enrolment tokens default to 24h)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := cli.Parse(fs, args[1:]); err != nil {
		return err
	}
	s, err := openStore(ctx, *db, *state)
	if err != nil {
		return err
	}
	defer s.Close()
	v := verifier.New(verifier.Config{Store: s})
	switch args[0] {
	case "create":
		if *role == store.RoleEnroll && *ttl == 0 {
			*ttl = 24 * time.Hour
		}
		value, t, err := v.CreateToken(ctx, *role, *ttl)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(stdout, map[string]any{"id": t.ID, "role": t.Role, "token": value, "expires": t.Expires})
		}
		fmt.Fprintf(stdout, "id:    %s\nrole:  %s\ntoken: %s\n", t.ID, t.Role, value)
		return nil
	case "revoke":
		if fs.NArg() != 1 {
			return cli.Usagef("token revoke: one token id")
		}
		if err := s.RevokeToken(ctx, fs.Arg(0)); err != nil {
			return fmt.Errorf("revoking token %s: %w", fs.Arg(0), err)
		}
		fmt.Fprintf(stdout, "revoked %s\n", fs.Arg(0))
		return nil
	default: // list
		ts, err := s.Tokens(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			type row struct {
				ID      string    `json:"id"`
				Role    string    `json:"role"`
				Created time.Time `json:"created"`
				Expires time.Time `json:"expires,omitzero"`
				Revoked bool      `json:"revoked"`
				UsedBy  string    `json:"used_by,omitempty"`
			}
			rows := make([]row, 0, len(ts))
			for _, t := range ts {
				rows = append(rows, row{t.ID, t.Role, t.Created, t.Expires, t.Revoked, t.UsedBy})
			}
			return printJSON(stdout, rows)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tROLE\tCREATED\tREVOKED\tUSED BY")
		for _, t := range ts {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\n", t.ID, t.Role, t.Created.Format(time.RFC3339), t.Revoked, t.UsedBy)
		}
		return tw.Flush()
	}
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
