package link

import (
	"errors"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"tep.dev/tep/rawio"
)

// SpinFile is a server's end of a pty (an *os.File in Go's network
// poller) whose reads, finding nothing, look again for a moment, yielding
// the CPU between looks, before they park in the poller. A client making
// calls in a loop sends its next request microseconds after it has its
// reply; on a VM, waking a parked reader costs more than that, and it is
// on every round trip.
//
// The spin gives way at once: a read spins only if its last wait was
// short (an idle port costs nothing) and no other port of the process is
// at work (busy ports need the Ps and the TPM's replies need the poller,
// and a spinning read holds its P); a yield that lets another thread run
// ends it (the CPU is wanted); and only GOMAXPROCS−1 reads spin at a time
// (none with GOMAXPROCS 1).
type SpinFile struct {
	f    *os.File
	rc   syscall.RawConn
	spin time.Duration
	cold bool // the last wait outlasted the spin: park at once
	// busy: counted in working, from a read that returned data to the
	// next read or Close (which may come from another goroutine).
	busy atomic.Bool
}

// working counts the SpinFiles between two reads: answering a request.
var working atomic.Int32

// NewSpinFile wraps f, whose reads spin for up to spin.
func NewSpinFile(f *os.File, spin time.Duration) (*SpinFile, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	return &SpinFile{f: f, rc: rc, spin: spin}, nil
}

// spinTokens bounds the reads spinning at once; see SpinFile.
var spinTokens = sync.OnceValue(func() chan struct{} {
	return make(chan struct{}, max(0, runtime.GOMAXPROCS(0)-1))
})

// Read reads what is there, waiting for at least one byte.
func (s *SpinFile) Read(p []byte) (int, error) {
	var n int
	var rerr error
	s.idle()
	start := time.Now()
	var sp spinner
	spinning := false
	if !s.cold && s.spin > 0 && working.Load() == 0 {
		select {
		case spinTokens() <- struct{}{}:
			sp.until, spinning = start.Add(s.spin), true
		default:
		}
	}
	err := s.rc.Read(func(fd uintptr) bool {
		for {
			n, rerr = rawio.Read(int(fd), p)
			if !errors.Is(rerr, unix.EAGAIN) {
				return true
			}
			if working.Load() > 0 {
				sp.stop() // another port needs the P
			}
			if spinning && !sp.again() {
				spinning = false
				<-spinTokens()
			}
			if !spinning {
				return false // park in the poller
			}
		}
	})
	if spinning {
		<-spinTokens()
	}
	s.cold = time.Since(start) > s.spin
	if err != nil {
		return 0, err
	}
	if rerr != nil {
		return 0, &os.PathError{Op: "read", Path: s.f.Name(), Err: rerr}
	}
	if n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	s.busy.Store(true) // until the next read: the port answers a request
	working.Add(1)
	return n, nil
}

// Write writes all of p, waiting in the poller while the pty is full;
// its writes are raw (see rawio), so a reply after an idle wait does not
// wake the runtime's monitor thread.
func (s *SpinFile) Write(p []byte) (int, error) {
	n, err := rawio.Conn{RC: s.rc}.Write(p)
	if errno := unix.Errno(0); errors.As(err, &errno) {
		err = &os.PathError{Op: "write", Path: s.f.Name(), Err: errno}
	}
	return n, err
}

// idle takes the port out of working if it was counted there.
func (s *SpinFile) idle() {
	if s.busy.Swap(false) {
		working.Add(-1)
	}
}

// Close closes the file; a port closed while it answered a request is at
// work no more.
func (s *SpinFile) Close() error {
	s.idle()
	return s.f.Close()
}

// SetReadDeadline sets when a Read gives up with os.ErrDeadlineExceeded.
func (s *SpinFile) SetReadDeadline(t time.Time) error { return s.f.SetReadDeadline(t) }
