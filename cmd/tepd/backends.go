package main

import (
	"fmt"
	"os"
	"path/filepath"

	"tep.dev/tep/server/store"
	"tep.dev/tep/tpm"
)

// backends are the TPM and the database a state directory goes with.
type backends struct {
	tpm   *tpm.TPM
	store *store.Store
}

func openBackends(state, tpmSpec string) (*backends, error) {
	if err := os.MkdirAll(state, 0o700); err != nil {
		return nil, fmt.Errorf("creating state directory: %w", err)
	}
	t, err := tpm.Open(tpmSpec, state)
	if err != nil {
		return nil, fmt.Errorf("opening TPM %s: %w", tpmSpec, err)
	}
	st, err := store.Open(filepath.Join(state, "tep.db"))
	if err != nil {
		t.Close()
		return nil, err
	}
	return &backends{tpm: t, store: st}, nil
}

func (b *backends) Close() {
	b.store.Close()
	b.tpm.Close()
}
