package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// previous is where the configuration before the last apply is kept.
func previous(dest string) string { return dest + ".previous" }

// lockDest takes the lock beside dest that serialises apply and rollback.
func lockDest(dest string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(dest+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s is being applied or rolled back by another tep-config (%s held): %w", dest, f.Name(), err)
	}
	return func() { f.Close() }, nil
}

// swap is a staging directory exchanged with the destination.
type swap struct {
	staging, dest string
	// had says whether dest existed; staging then holds the old one.
	had bool
}

// swapIn puts staging at dest in one step: renameat2(RENAME_EXCHANGE)
// when dest exists, so that no reader ever sees no configuration or half
// of one; a plain rename otherwise.
func swapIn(staging, dest string) (*swap, error) {
	sw := &swap{staging: staging, dest: dest}
	fi, err := os.Lstat(dest)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return sw, os.Rename(staging, dest)
	case err != nil:
		return nil, err
	case !fi.IsDir():
		return nil, fmt.Errorf("%s is not a directory", dest)
	}
	sw.had = true
	return sw, exchange(staging, dest)
}

func exchange(a, b string) error {
	if err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE); err != nil {
		return fmt.Errorf("exchanging %s and %s: %w", a, b, err)
	}
	return nil
}

// undo puts the old destination back (or removes the new one).
func (sw *swap) undo() error {
	if sw.had {
		return exchange(sw.staging, sw.dest)
	}
	return os.Rename(sw.dest, sw.staging)
}

// keepPrevious moves the old destination to dest.previous, replacing the
// one kept before.
func (sw *swap) keepPrevious() error {
	if !sw.had {
		return nil
	}
	prev := previous(sw.dest)
	if _, err := os.Lstat(prev); err == nil {
		if err := exchange(sw.staging, prev); err != nil {
			return err
		}
		return nil // staging, now the older previous, is removed by the caller
	}
	return os.Rename(sw.staging, prev)
}
