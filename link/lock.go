package link

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// ErrLockTimeout is returned when the port stays locked by another client
// past the caller's deadline.
var ErrLockTimeout = errors.New("link: port is busy: another client holds it")

// Lock serialises request/reply exchanges on one port: a one-token queue
// among the goroutines of this process, then an open-file-description
// (OFD) record lock on the tty among processes. OFD locks, unlike classic
// POSIX record locks, are not dropped when another descriptor of the same
// file is closed in the process, and the kernel drops them when their
// holder dies, so a client killed mid-call frees the port at once.
//
// Two bytes of the tty's lock space make the lock fair between processes.
// A client takes the queue byte and the port byte in one call and then
// lets the queue byte go. A client that finds the port taken waits on the
// queue byte first and keeps it until it has the port; a holder that
// finishes and comes straight back finds the queue byte taken and falls in
// behind the waiter. Uncontended, a call costs three fcntl(2)s.
//
// Fork: an OFD lock belongs to the open file description, which a child
// created by fork(2) shares. A child that goes on without exec must close
// the descriptor (the provider does so in its fork handler), so that it
// can neither hold nor release the parent's lock.
type Lock struct {
	turn chan struct{} // holds a token while locked: waiters queue in order
	fd   int           // the tty, or -1: process-local only
	tty  *TTY          // nil: process-local only
	wake *wakeArea     // nil: waiters poll
}

// Byte offsets of the queue and port locks in the tty's lock space.
const (
	queueByte = 0
	portByte  = 1
)

// NewLock returns the lock for the tty t, which must stay open while the
// lock is in use. A nil t gives a lock that serialises only within the
// process, for private connections such as sockets.
func NewLock(t *TTY) *Lock {
	l := &Lock{turn: make(chan struct{}, 1), fd: -1}
	if t != nil {
		l.fd, l.tty = t.FD(), t
		l.wake = wakeAreaFor(l.fd)
	}
	return l
}

// Acquire takes the lock, giving up with ErrLockTimeout at deadline (zero:
// wait for ever).
func (l *Lock) Acquire(deadline time.Time) error {
	select {
	case l.turn <- struct{}{}:
	default:
		if err := l.waitTurn(deadline); err != nil {
			return err
		}
	}
	if l.fd < 0 {
		return nil
	}
	err := l.setlk(unix.F_WRLCK, queueByte, 2)
	if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
		// Busy: queue up behind the holder, then take the port.
		if err = l.take(queueByte, deadline); err == nil {
			err = l.take(portByte, deadline)
		}
	}
	if err != nil {
		l.unlock(queueByte, 2)
		<-l.turn
		return err
	}
	l.unlock(queueByte, 1)
	return nil
}

func (l *Lock) waitTurn(deadline time.Time) error {
	if deadline.IsZero() {
		l.turn <- struct{}{}
		return nil
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case l.turn <- struct{}{}:
		return nil
	case <-t.C:
		return ErrLockTimeout
	}
}

// Release lets the lock go.
func (l *Lock) Release() {
	if l.fd >= 0 {
		l.unlock(portByte, 1)
	}
	<-l.turn
}

// unlock lets n bytes from at go and wakes a process waiting for each.
func (l *Lock) unlock(at, n int64) {
	l.setlk(unix.F_UNLCK, at, n)
	if l.wake != nil {
		for b := at; b < at+n; b++ {
			l.wake.wake(b)
		}
	}
}

// take waits for one byte's lock: asleep on the wake area, or polling
// when there is none. The kernel's blocking variant cannot be given a
// deadline, and a busy port must not hang the application.
func (l *Lock) take(at int64, deadline time.Time) error {
	poll := 20 * time.Microsecond
	for {
		var seq uint32
		if l.wake != nil {
			seq = l.wake.seq(at).Load()
		}
		err := l.setlk(unix.F_WRLCK, at, 1)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EACCES) {
			return fmt.Errorf("locking port: %w", err)
		}
		wait := poll
		if l.wake != nil {
			wait = wakeSlice
		}
		if !deadline.IsZero() {
			left := time.Until(deadline)
			if left <= 0 {
				return ErrLockTimeout
			}
			wait = min(wait, left)
		}
		if l.wake != nil {
			l.wake.wait(at, seq, wait, l.tty.RawWaits())
		} else {
			time.Sleep(wait)
			poll = min(2*poll, 500*time.Microsecond)
		}
	}
}

func (l *Lock) setlk(typ int16, at, n int64) error {
	lk := unix.Flock_t{Type: typ, Whence: 0, Start: at, Len: n}
	return rawSetlk(l.fd, &lk)
}
