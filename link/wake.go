package link

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A process waiting for one of a port's lock bytes (see Lock) sleeps on a
// futex in a small shared file instead of polling the lock, and the
// process that lets the byte go wakes it: the port passes between
// processes in microseconds, not in a polling interval. The futex only
// hurries things along; the OFD lock stays the authority. A waiter wakes
// on its own after wakeSlice and tries again, so a holder that died (the
// kernel drops its lock but wakes nobody), or one of another user, who
// has a wake file of its own, delays the next one by that much at most.
//
// The file is per user (so that nobody else can truncate it under the
// mapping, which would kill the application with SIGBUS) and per tty
// device: wakeDir/tep-lock-UID-MAJOR-MINOR, four 32-bit words: a wake
// count and a waiter count for each of the two lock bytes.
type wakeArea struct {
	words *[4]atomic.Uint32
}

// wakeSlice is the longest a waiter sleeps before it looks again.
const wakeSlice = 10 * time.Millisecond

// wakeDir holds the wake files; a variable for tests.
var wakeDir = "/dev/shm"

var (
	wakeMu    sync.Mutex
	wakeAreas = map[uint64]*wakeArea{} // by tty device; nil: unavailable
)

// wakeAreaFor returns the wake area of the tty open at fd, mapping it on
// first use (the mapping lasts as long as the process), or nil when there
// can be none: the lock then polls.
func wakeAreaFor(fd int) *wakeArea {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return nil
	}
	wakeMu.Lock()
	defer wakeMu.Unlock()
	w, ok := wakeAreas[st.Rdev]
	if !ok {
		w, _ = mapWakeArea(st.Rdev)
		wakeAreas[st.Rdev] = w
	}
	return w
}

const wakeFileSize = 64

func mapWakeArea(rdev uint64) (*wakeArea, error) {
	uid := os.Getuid()
	path := filepath.Join(wakeDir, fmt.Sprintf("tep-lock-%d-%d-%d", uid, unix.Major(rdev), unix.Minor(rdev)))
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, err
	}
	if int(st.Uid) != uid || st.Mode&0o077 != 0 || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("%s is not a private file of this user", path)
	}
	if st.Size < wakeFileSize {
		if err := unix.Ftruncate(fd, wakeFileSize); err != nil {
			return nil, err
		}
	}
	mem, err := unix.Mmap(fd, 0, wakeFileSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, err
	}
	return &wakeArea{words: (*[4]atomic.Uint32)(unsafe.Pointer(&mem[0]))}, nil
}

// The words of each lock byte: its wake count and its waiter count.
func (w *wakeArea) seq(at int64) *atomic.Uint32     { return &w.words[2*at] }
func (w *wakeArea) waiters(at int64) *atomic.Uint32 { return &w.words[2*at+1] }

// wait sleeps until the byte at is let go after its wake count read seq,
// or d passes; raw: see TTY.SetRawWaits.
//
// The waiter count says how many may be asleep. A process that lets the
// byte go takes one off and wakes one; a waiter that returns for any
// other reason (the byte went before it slept, the time ran out, a
// signal) takes itself off, unless a waker already did. A waiter killed
// in its sleep thus costs the next release one wake that finds nobody,
// and the count is right again.
func (w *wakeArea) wait(at int64, seq uint32, d time.Duration, raw bool) {
	n := w.waiters(at)
	n.Add(1)
	if futexWait((*uint32)(unsafe.Pointer(w.seq(at))), seq, d, raw) != 0 {
		takeOne(n)
	}
}

// wake tells one process waiting for the byte at that it was let go.
func (w *wakeArea) wake(at int64) {
	s := w.seq(at)
	s.Add(1)
	if takeOne(w.waiters(at)) {
		rawFutexWake((*uint32)(unsafe.Pointer(s)))
	}
}

// takeOne takes one off n unless it is zero, and says whether it did.
func takeOne(n *atomic.Uint32) bool {
	for {
		v := n.Load()
		if v == 0 {
			return false
		}
		if n.CompareAndSwap(v, v-1) {
			return true
		}
	}
}
