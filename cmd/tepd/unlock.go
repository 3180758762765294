package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"tep.dev/tep/internal/cli"
	"tep.dev/tep/server/store"
)

// runUnlockSO forgets the SO PIN's wrong tries of a token. PKCS#11 has no
// way to unlock a locked SO PIN; this is the way, for whoever can write
// the state directory on the trusted VM (root there), with tepd stopped:
// a running tepd keeps its counts in memory. The SO PIN itself does not
// change, and the TPM still counts every wrong guess.
func runUnlockSO(_ context.Context, args []string, std cli.IO) error {
	stdout, stderr := std.Out, std.Err
	fs := flag.NewFlagSet("unlock-so", flag.ContinueOnError)
	fs.SetOutput(stderr)
	state := fs.String("state", "", "state directory (database)")
	slot := fs.Uint64("slot", 1, "slot of the token")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *state == "" {
		return errors.New("unlock-so needs --state")
	}
	path := filepath.Join(*state, "tep.db")
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("no database in %s: %w", *state, err)
	}
	lock, err := lockState(*state) // a running tepd keeps the counts in memory
	if err != nil {
		return err
	}
	defer lock.Release()
	st, err := store.Open(path)
	if err != nil {
		return err
	}
	defer st.Close()
	tok, err := st.Token(*slot)
	if err != nil {
		return fmt.Errorf("slot %d: %w", *slot, err)
	}
	if err := st.SetPINFailures(*slot, true, 0); err != nil {
		return fmt.Errorf("slot %d: %w", *slot, err)
	}
	fmt.Fprintf(stdout, "SO PIN of token %q in slot %d unlocked (it had %d wrong tries)\n", tok.Label, *slot, tok.SOPINFails)
	return nil
}
