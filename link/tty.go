package link

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
	"tep.dev/tep/rawio"
)

// TTY is a client's open tty. Its reads and writes wait in poll(2) on the
// calling thread, as raw system calls (see rawsys.go), instead of in Go's
// network poller. In the provider that thread is the application's,
// entering Go through cgo: parking it on the poller would cost two thread
// hand-offs per call (the poller's thread finds the reply, then wakes the
// application's thread, to which the call is locked), which on a VM is
// more than the pty itself.
type TTY struct {
	fd   int
	name string

	mu       sync.Mutex
	deadline time.Time
	spin     time.Duration
	rawWaits atomic.Bool
	quiet    int // waits left that do not spin, after one outlasted the spin
	closed   bool
}

// pollSliceTTY bounds one wait, so that a deadline moved by another
// goroutine takes effect within it, and so that a raw wait (rawsys.go)
// gives its P back to the scheduler at least this often.
const pollSliceTTY = 10 * time.Millisecond

// writeTimeout bounds a write that finds the tty full: a server that
// stopped reading must not hang the caller.
const writeTimeout = 30 * time.Second

// OpenTTY opens a tty device for a client: raw mode, not the controlling
// terminal, and not exclusive, so that other processes can share it. baud
// 0 leaves the line speed as it is; ptys ignore it.
func OpenTTY(path string, baud int) (*TTY, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	if err := makeRaw(fd, baud); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("setting %s to raw mode: %w", path, err)
	}
	return &TTY{fd: fd, name: path}, nil
}

// FD returns the descriptor, for locks and for the fork handler.
func (t *TTY) FD() int { return t.fd }

// Name returns the path the tty was opened by.
func (t *TTY) Name() string { return t.name }

// SetReadDeadline sets when a Read gives up with os.ErrDeadlineExceeded.
func (t *TTY) SetReadDeadline(d time.Time) error {
	t.mu.Lock()
	t.deadline = d
	t.mu.Unlock()
	return nil
}

// wait polls for events, at most until deadline (zero: no limit).
func (t *TTY) wait(events int16, deadline time.Time) error {
	slice := pollSliceTTY
	if !deadline.IsZero() {
		left := time.Until(deadline)
		if left <= 0 {
			return os.ErrDeadlineExceeded
		}
		slice = min(slice, left)
	}
	poll := announcedPoll
	if t.RawWaits() {
		poll = rawPoll
	}
	if err := poll(t.fd, events, slice); err != nil {
		return &os.PathError{Op: "poll", Path: t.name, Err: err}
	}
	return nil
}

// readDeadline returns the read deadline, or os.ErrClosed.
func (t *TTY) readDeadline() (time.Time, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return time.Time{}, os.ErrClosed
	}
	return t.deadline, nil
}

// SetSpin has each Read that finds nothing to read try again, yielding
// the CPU between tries, for up to d before it sleeps in poll(2). On a VM
// whose idle virtual CPUs halt, the wake-up of a sleeping reader costs
// more than a round trip to tepd; a reader that is still running when the
// reply comes sees it at once. sched_yield(2) hands the CPU to anything
// else that wants it (tepd, the TPM), so the spin only uses what would
// idle. A wait that outlasts the spin (a long TPM operation, a port
// shared by busy processes) turns spinning off until a wait is short
// again: spinning then would only take the CPU from tepd and the TPM.
// Zero, the default, never spins.
func (t *TTY) SetSpin(d time.Duration) {
	t.mu.Lock()
	t.spin = d
	t.mu.Unlock()
}

// SetRawWaits makes the waits of reads, writes and locks on this tty raw
// system calls, which keep the thread's P (see rawsys.go). For callers
// whose thread is lent by a C application, one at a time per tty: the
// provider.
func (t *TTY) SetRawWaits(on bool) { t.rawWaits.Store(on) }

// RawWaits reports whether waits on the tty are raw system calls.
func (t *TTY) RawWaits() bool { return t.rawWaits.Load() }

// quietWaits is how many waits do not spin after one that outlasted the
// spin.
const quietWaits = 8

// yieldedAway is how long a sched_yield(2) takes when another thread ran
// in between, rather than returning at once.
const yieldedAway = 100 * time.Microsecond

// spinner keeps a wait on its CPU, yielding between looks, until a time
// or until a yield shows that another thread wanted the CPU.
type spinner struct{ until time.Time }

// again yields and reports whether to look once more; false when the
// spin is over.
func (s *spinner) again() bool {
	now := time.Now()
	if !now.Before(s.until) {
		return false
	}
	rawYield()
	if time.Since(now) > yieldedAway {
		s.until = time.Time{} // the CPU is wanted: wait without it
	}
	return true
}

// stop ends the spin.
func (s *spinner) stop() { s.until = time.Time{} }

// Read reads what the tty has, waiting for at least one byte.
func (t *TTY) Read(p []byte) (int, error) {
	t.mu.Lock()
	spin := t.spin
	if t.quiet > 0 {
		t.quiet--
		spin = 0
	}
	t.mu.Unlock()
	start := time.Now()
	sp := spinner{until: start.Add(spin)}
	waited := false
	for {
		n, err := rawio.Read(t.fd, p)
		switch {
		case err == nil && n == 0 && len(p) > 0:
			return 0, io.EOF
		case err == nil:
			if waited {
				t.mu.Lock()
				if time.Since(start) > t.spin {
					t.quiet = quietWaits
				}
				t.mu.Unlock()
			}
			return n, nil
		case errors.Is(err, unix.EINTR):
			continue
		case !errors.Is(err, unix.EAGAIN):
			return 0, &os.PathError{Op: "read", Path: t.name, Err: err}
		}
		waited = true
		if sp.again() {
			continue
		}
		d, err := t.readDeadline()
		if err == nil {
			err = t.wait(unix.POLLIN, d)
		}
		if err != nil {
			return 0, err
		}
	}
}

// Write writes all of p.
func (t *TTY) Write(p []byte) (int, error) {
	deadline := time.Now().Add(writeTimeout)
	done := 0
	for done < len(p) {
		n, err := rawio.Write(t.fd, p[done:])
		if n > 0 {
			done += n
		}
		switch {
		case err == nil, errors.Is(err, unix.EINTR):
			continue
		case !errors.Is(err, unix.EAGAIN):
			return done, &os.PathError{Op: "write", Path: t.name, Err: err}
		}
		if err := t.wait(unix.POLLOUT, deadline); err != nil {
			return done, err
		}
	}
	return done, nil
}

// Close closes the tty.
func (t *TTY) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return os.ErrClosed
	}
	t.closed = true
	return unix.Close(t.fd)
}
