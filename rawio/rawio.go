// Package rawio reads and writes non-blocking descriptors with raw
// system calls, which the Go scheduler is not told about. On such a
// descriptor read(2) and write(2) cannot block, and telling the scheduler
// costs more than the call: a process that sat idle between requests, as
// tepd does between calls and while the TPM works, has its runtime's
// monitor thread asleep, and every announced call wakes it, a futex wake
// and a thread switch on the other CPU.
//
// Conn waits for a descriptor that is not ready in the runtime's network
// poller, so its waits are announced and honour the deadlines of the file
// or connection it came from.
package rawio

import (
	"errors"
	"io"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Read is read(2) of p on the non-blocking descriptor fd: the error is the
// errno, unix.EAGAIN when there is nothing to read.
func Read(fd int, p []byte) (int, error) { return do(unix.SYS_READ, fd, p) }

// Write is write(2) of p on the non-blocking descriptor fd: the error is
// the errno, unix.EAGAIN when there is no room.
func Write(fd int, p []byte) (int, error) { return do(unix.SYS_WRITE, fd, p) }

func do(sysno uintptr, fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall(sysno, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// Conn is an io.ReadWriter of raw calls on the descriptor of a file or
// connection (its SyscallConn), which must be in the network poller.
type Conn struct{ RC syscall.RawConn }

// Read reads what is there, waiting in the poller for at least one byte;
// it returns io.EOF at the end of the stream.
func (c Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var rerr error
	err := c.RC.Read(func(fd uintptr) bool {
		for {
			n, rerr = Read(int(fd), p)
			switch {
			case errors.Is(rerr, unix.EINTR):
				continue
			case errors.Is(rerr, unix.EAGAIN):
				return false
			case rerr == nil && n == 0:
				rerr = io.EOF
			}
			return true
		}
	})
	if err != nil {
		return 0, err
	}
	return n, rerr
}

// Write writes all of p, waiting in the poller while there is no room.
func (c Conn) Write(p []byte) (int, error) {
	done := 0
	var werr error
	err := c.RC.Write(func(fd uintptr) bool {
		for done < len(p) {
			n, err := Write(int(fd), p[done:])
			switch {
			case errors.Is(err, unix.EINTR):
			case errors.Is(err, unix.EAGAIN):
				return false
			case err != nil:
				werr = err
				return true
			default:
				done += n
			}
		}
		return true
	})
	if err != nil {
		return done, err
	}
	return done, werr
}
