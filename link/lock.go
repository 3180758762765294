package link

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// ErrLockTimeout is returned when the port stays locked by another client
// past the caller's deadline.
var ErrLockTimeout = errors.New("link: port is busy: another client holds it")

// Lock serialises request/reply exchanges on one port: a one-token queue among the
// goroutines of this process, then an open-file-description (OFD) record
// lock on the tty among processes. OFD locks, unlike classic POSIX record
// locks, are not dropped when some other descriptor of the same file is
// closed in the process, and the kernel drops them when their holder dies,
// so a client killed mid-call frees the port at once.
//
// Two byte ranges make the lock fair between processes: a waiter first
// takes the queue byte, then the port byte, then lets the queue byte go.
// A holder that finishes and comes straight back finds the queue byte
// taken by the waiter and has to let it go first.
//
// Fork: an OFD lock belongs to the open file description, which a child
// created by fork(2) shares. The provider closes the descriptor in the
// child (see provider's fork handling), so a child can neither hold nor
// release the parent's lock.
type Lock struct {
	turn chan struct{} // holds a token while locked: waiters queue in order
	f    *os.File      // nil: process-local only
}

// Byte offsets of the queue and port locks in the tty "file".
const (
	queueByte = 0
	portByte  = 1
)

// NewLock returns the lock for the port open as f. A nil f gives a lock
// that serialises only within the process, for private connections.
func NewLock(f *os.File) *Lock { return &Lock{turn: make(chan struct{}, 1), f: f} }

// Acquire takes the lock, giving up with ErrLockTimeout when ctx ends.
func (l *Lock) Acquire(ctx context.Context) error {
	select {
	case l.turn <- struct{}{}:
	case <-ctx.Done():
		return ErrLockTimeout
	}
	if l.f == nil {
		return nil
	}
	if err := l.take(ctx, queueByte); err != nil {
		<-l.turn
		return err
	}
	err := l.take(ctx, portByte)
	l.setlk(unix.F_UNLCK, queueByte)
	if err != nil {
		<-l.turn
	}
	return err
}

// Release lets the lock go.
func (l *Lock) Release() {
	if l.f != nil {
		l.setlk(unix.F_UNLCK, portByte)
	}
	<-l.turn
}

// take polls for one byte's lock. The kernel's blocking variant cannot be
// given a deadline, and a busy port must not hang the application.
func (l *Lock) take(ctx context.Context, at int64) error {
	wait := 20 * time.Microsecond
	for {
		err := l.setlk(unix.F_WRLCK, at)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EACCES) {
			return fmt.Errorf("locking port: %w", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ErrLockTimeout
		case <-t.C:
		}
		wait = min(2*wait, 500*time.Microsecond)
	}
}

func (l *Lock) setlk(typ int16, at int64) error {
	lk := unix.Flock_t{Type: typ, Whence: 0, Start: at, Len: 1}
	rc, err := l.f.SyscallConn()
	if err != nil {
		return err
	}
	var lockErr error
	if err := rc.Control(func(fd uintptr) {
		lockErr = unix.FcntlFlock(fd, unix.F_OFD_SETLK, &lk)
	}); err != nil {
		return err
	}
	return lockErr
}
