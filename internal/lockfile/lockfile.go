package lockfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// HeldError reports a lock that another live process holds.
type HeldError struct {
	Path string
	// PID is the holder's process id, or 0 when the holder had not yet
	// written it.
	PID int
}

func (e *HeldError) Error() string {
	if e.PID == 0 {
		return fmt.Sprintf("%s is locked by another process", e.Path)
	}
	return fmt.Sprintf("%s is locked by process %d", e.Path, e.PID)
}

// Lock is a held lock file, or a held directory (AcquireDir).
type Lock struct {
	f    *os.File // the locked file or directory
	path string   // the lock file, or the directory's PID file
	dir  bool     // f is a directory: path is only its PID file
}

// attempts bounds Acquire's restarts after a holder removed the file under
// it: each restart needs another process to take and release the lock in
// between, so a handful means a storm, not bad luck.
const attempts = 8

// Acquire takes the lock file at path, creating it (mode 0600) if need be,
// and writes this process's PID in it. It does not wait: when another
// process holds the lock it returns a *HeldError naming that process.
func Acquire(path string) (*Lock, error) {
	for range attempts {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("opening lock file: %w", err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			pid := readPID(f)
			f.Close()
			if errors.Is(err, unix.EWOULDBLOCK) {
				return nil, &HeldError{Path: path, PID: pid}
			}
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if same, err := stillThere(f, path); err != nil {
			f.Close()
			return nil, err
		} else if !same {
			f.Close()
			continue
		}
		l := &Lock{f: f, path: path}
		if err := l.writePID(); err != nil {
			l.Release()
			return nil, err
		}
		return l, nil
	}
	return nil, fmt.Errorf("locking %s: the file kept being replaced", path)
}

// AcquireDir locks the directory dir itself, so that removing a file in it
// cannot free the lock, and writes this process's PID in dir/pidName
// (mode 0600) for the message of whoever is refused. It does not wait:
// when another process holds dir it returns a *HeldError whose Path is
// dir and whose PID is the one in pidName, or 0 if that file is gone.
func AcquireDir(dir, pidName string) (*Lock, error) {
	f, err := os.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, fmt.Errorf("opening directory to lock: %w", err)
	}
	pidPath := filepath.Join(dir, pidName)
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			pid := 0
			if pf, err := os.Open(pidPath); err == nil {
				pid = readPID(pf)
				pf.Close()
			}
			return nil, &HeldError{Path: dir, PID: pid}
		}
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	l := &Lock{f: f, path: pidPath, dir: true}
	if err := l.writePID(); err != nil {
		l.Release()
		return nil, err
	}
	return l, nil
}

// stillThere reports whether path still names the open file f.
func stillThere(f *os.File, path string) (bool, error) {
	held, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("checking lock file: %w", err)
	}
	now, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("checking lock file: %w", err)
	}
	return os.SameFile(held, now), nil
}

func (l *Lock) writePID() error {
	pid := strconv.Itoa(os.Getpid()) + "\n"
	if l.dir {
		// Whoever holds the directory owns the file: no one else may
		// write it, so it is simply replaced.
		if err := os.WriteFile(l.path, []byte(pid), 0o600); err != nil {
			return fmt.Errorf("writing PID file %s: %w", l.path, err)
		}
		return nil
	}
	if err := l.f.Truncate(0); err != nil {
		return fmt.Errorf("writing lock file %s: %w", l.path, err)
	}
	if _, err := l.f.WriteAt([]byte(pid), 0); err != nil {
		return fmt.Errorf("writing lock file %s: %w", l.path, err)
	}
	return nil
}

// readPID reads the PID a holder wrote, or 0.
func readPID(f *os.File) int {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// Path returns the lock file's path, or a directory lock's PID file.
func (l *Lock) Path() string { return l.path }

// Release removes the lock file and lets the lock go. It is safe to call
// more than once.
func (l *Lock) Release() {
	if l == nil || l.f == nil {
		return
	}
	if l.dir {
		os.Remove(l.path) // the PID file, which only the holder writes
	} else if same, err := stillThere(l.f, l.path); err == nil && same {
		// Remove only the file this lock holds: nobody else can have
		// replaced it while we hold it, unless they ignored the lock.
		os.Remove(l.path)
	}
	l.f.Close()
	l.f = nil
}
