package link

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"tep.dev/tep/internal/lockfile"
)

// Stream is a byte stream with read deadlines: a tty or pty opened by this
// package, a serial port from OpenSerial, or a unix socket connection.
type Stream interface {
	Read(p []byte) (int, error)
	Write(p []byte) (int, error)
	Close() error
	SetReadDeadline(t time.Time) error
}

// Dial opens the port a client names. "unix:PATH" connects to a unix
// socket; anything else is a tty device path, opened in raw mode without
// claiming it exclusively, so that other processes can share it. For a tty
// Dial also returns the Lock that serialises exchanges across processes;
// for a socket, which is private to this connection, a process-local Lock.
func Dial(addr string, baud int) (Stream, *Lock, error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
		if err != nil {
			return nil, nil, fmt.Errorf("connecting to %s: %w", addr, err)
		}
		return c, NewLock(nil), nil
	}
	t, err := OpenTTY(addr, baud)
	if err != nil {
		return nil, nil, err
	}
	return t, NewLock(t), nil
}

// makeRaw puts a tty into raw 8N1 mode, as cfmakeraw(3) does, and sets
// its speed when baud is not zero.
func makeRaw(fd int, baud int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR |
		unix.IGNCR | unix.ICRNL | unix.IXON | unix.IXOFF | unix.IXANY
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB | unix.CSTOPB | unix.CRTSCTS
	t.Cflag |= unix.CS8 | unix.CREAD | unix.CLOCAL
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	if baud != 0 {
		rate, ok := baudRates[baud]
		if !ok {
			return fmt.Errorf("unsupported baud rate %d", baud)
		}
		t.Cflag &^= unix.CBAUD
		t.Cflag |= rate
		t.Ispeed, t.Ospeed = rate, rate
	}
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}

var baudRates = map[int]uint32{
	9600: unix.B9600, 19200: unix.B19200, 38400: unix.B38400,
	57600: unix.B57600, 115200: unix.B115200, 230400: unix.B230400,
	460800: unix.B460800, 921600: unix.B921600, 1000000: unix.B1000000,
	1500000: unix.B1500000, 2000000: unix.B2000000, 3000000: unix.B3000000,
	4000000: unix.B4000000,
}

// isTimeout reports whether err is a read deadline expiring.
func isTimeout(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// UnixListener is a unix socket that this process listens on. It holds a
// lock file beside the socket (.NAME.lock) for its lifetime, and removes
// the socket on Close only if the path still names the socket it made.
type UnixListener struct {
	*net.UnixListener
	path string
	made os.FileInfo
	lock *lockfile.Lock
}

// ListenUnix listens on a unix socket at path, replacing a stale socket
// file left by a server that died. It refuses a path that another live
// process serves: one holding the lock (a *lockfile.HeldError names it),
// or any server that accepts a connection there.
func ListenUnix(path string) (*UnixListener, error) {
	lock, err := claim(path)
	if err != nil {
		return nil, err
	}
	l, made, err := listenUnix(path)
	if err != nil {
		lock.Release()
		return nil, err
	}
	return &UnixListener{UnixListener: l, path: path, made: made, lock: lock}, nil
}

func listenUnix(path string) (*net.UnixListener, os.FileInfo, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return nil, nil, fmt.Errorf("listening on %s: another server is there", path)
		}
		os.Remove(path)
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, nil, fmt.Errorf("listening on %s: %w", path, err)
	}
	// Go would remove whatever is at path on Close; Close here removes
	// only our own socket.
	l.SetUnlinkOnClose(false)
	made, err := os.Lstat(path)
	if err != nil {
		l.Close()
		return nil, nil, fmt.Errorf("listening on %s: %w", path, err)
	}
	return l, made, nil
}

// Close stops listening, removes the socket if the path still names it,
// and lets the path go. Closing the embedded listener first (as a serve
// loop does) is fine.
func (l *UnixListener) Close() error {
	err := l.UnixListener.Close()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	if fi, e := os.Lstat(l.path); e == nil && os.SameFile(fi, l.made) {
		os.Remove(l.path)
	}
	l.lock.Release()
	return err
}
