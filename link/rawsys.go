package link

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A client's quick system calls on its tty and lock (read and write on a
// non-blocking descriptor, in rawio; fcntl F_OFD_SETLK, sched_yield, a
// futex wake) go in raw, without telling the Go scheduler about them:
// none of them can block, and the announcement costs more than they do.
//
// Its waits (for a reply, for room to write, for the port's lock) are
// raw too when the TTY is set to (SetRawWaits). That is for the provider,
// whose thread is the application's, in Go only for one PKCS#11 call, and
// whose waits for a busy port shared by several processes are most of
// that call. An announced wait makes the module's runtime take the
// waiting P away after 10 ms, hand it to a fresh thread that finds
// nothing to do, and set its monitor thread polling every 20 µs: under
// W7 (24 processes on six ports) that was about 40 context switches per
// signature in each client process, and the CPU they took was the TPM's.
//
// A raw wait keeps its P. Every wait is a bounded slice (pollSliceTTY,
// wakeSlice), and the runtime's preemption signal ends a poll early with
// EINTR, so the garbage collector and other goroutines get the P back
// between slices; but a goroutine of the same process that must run for
// the wait to end (a server in the same process, as in tests) runs only
// between slices. Hence raw waits are an opt-in for the provider, whose
// process holds one port and waits on it from one thread at a time.

// rawErr turns a raw call's errno into an error.
func rawErr(e unix.Errno) error {
	if e != 0 {
		return e
	}
	return nil
}

// rawPoll waits up to d for events on fd; EINTR is not an error.
func rawPoll(fd int, events int16, d time.Duration) error {
	fds := [1]unix.PollFd{{Fd: int32(fd), Events: events}}
	ts := unix.NsecToTimespec(int64(d))
	_, _, e := unix.RawSyscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&fds[0])), 1, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
	if e == unix.EINTR {
		return nil
	}
	return rawErr(e)
}

// announcedPoll waits up to d for events on fd, telling the scheduler;
// EINTR is not an error.
func announcedPoll(fd int, events int16, d time.Duration) error {
	fds := []unix.PollFd{{Fd: int32(fd), Events: events}}
	ts := unix.NsecToTimespec(int64(d))
	if _, err := unix.Ppoll(fds, &ts, nil); err != nil && err != unix.EINTR {
		return err
	}
	return nil
}

// rawYield is sched_yield(2).
func rawYield() { unix.RawSyscall(unix.SYS_SCHED_YIELD, 0, 0, 0) }

// futex(2) operations on a word shared between processes (so without
// FUTEX_PRIVATE_FLAG).
const (
	opFutexWait = 0
	opFutexWake = 1
)

// futexWait sleeps while *addr is val, for at most d; raw or announced.
// It returns 0 when woken, else the errno: EAGAIN (*addr was not val),
// ETIMEDOUT, EINTR.
func futexWait(addr *uint32, val uint32, d time.Duration, raw bool) unix.Errno {
	ts := unix.NsecToTimespec(int64(d))
	if raw {
		_, _, e := unix.RawSyscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), opFutexWait, uintptr(val), uintptr(unsafe.Pointer(&ts)), 0, 0)
		return e
	}
	_, _, e := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), opFutexWait, uintptr(val), uintptr(unsafe.Pointer(&ts)), 0, 0)
	return e
}

// rawFutexWake wakes one sleeper on addr.
func rawFutexWake(addr *uint32) {
	unix.RawSyscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), opFutexWake, 1, 0, 0, 0)
}

// rawSetlk is fcntl(2) F_OFD_SETLK, which never waits.
func rawSetlk(fd int, lk *unix.Flock_t) error {
	_, _, e := unix.RawSyscall(unix.SYS_FCNTL, uintptr(fd), unix.F_OFD_SETLK, uintptr(unsafe.Pointer(lk)))
	return rawErr(e)
}
