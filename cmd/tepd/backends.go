package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"tep.dev/tep/internal/lockfile"
	"tep.dev/tep/server/store"
	"tep.dev/tep/tpm"
)

// stateLockName is the PID file in a state directory, which names the
// tepd that holds the directory's lock: one tepd at a time may use the
// directory, or two would write one database and fight over the
// simulator's seeds and the ports. The lock is on the directory itself,
// so removing the file frees nothing.
const stateLockName = "tepd.lock"

// backends are the TPM and the database a state directory goes with, and
// the lock that makes them this process's alone.
type backends struct {
	lock  *lockfile.Lock
	tpm   *tpm.TPM
	store *store.Store
}

// stateInUseError is the refusal of a state directory that another tepd
// holds.
type stateInUseError struct {
	state, lock string
	pid         int
}

func (e *stateInUseError) Error() string {
	return fmt.Sprintf("state directory %s is in use by tepd process %d (lock %s)", e.state, e.pid, e.lock)
}

// lockState takes the state directory's lock, creating the directory if
// need be. It comes before anything in the directory is opened.
func lockState(state string) (*lockfile.Lock, error) {
	if err := os.MkdirAll(state, 0o700); err != nil {
		return nil, fmt.Errorf("creating state directory: %w", err)
	}
	l, err := lockfile.AcquireDir(state, stateLockName)
	var held *lockfile.HeldError
	if errors.As(err, &held) && held.PID != 0 {
		return nil, &stateInUseError{state: state, pid: held.PID, lock: filepath.Join(state, stateLockName)}
	}
	if err != nil {
		return nil, fmt.Errorf("locking state directory %s: %w", state, err)
	}
	return l, nil
}

func openBackends(state, tpmSpec string) (*backends, error) {
	lock, err := lockState(state)
	if err != nil {
		return nil, err
	}
	t, err := tpm.Open(tpmSpec, state)
	if err != nil {
		lock.Release()
		return nil, fmt.Errorf("opening TPM %s: %w", tpmSpec, err)
	}
	st, err := store.Open(filepath.Join(state, "tep.db"))
	if err != nil {
		t.Close()
		lock.Release()
		return nil, err
	}
	return &backends{lock: lock, tpm: t, store: st}, nil
}

// Close closes the database and the TPM, then lets the state go.
func (b *backends) Close() {
	b.store.Close()
	b.tpm.Close()
	b.lock.Release()
}
