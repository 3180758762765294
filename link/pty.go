package link

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// PTY is a pseudo-terminal pair standing in for a virtual UART: the server
// reads and writes Master, clients open Path (a stable symlink to the
// slave device, such as run/ttyS4).
type PTY struct {
	Master *os.File
	Path   string // the symlink clients open
	Slave  string // the device it points to, /dev/pts/N

	// slave is held open so that the master never reads EIO while no
	// client has the port open, and so the raw mode set here persists.
	slave *os.File
}

// NewPTY creates a pty pair in raw mode and points the symlink path at its
// slave side, replacing a stale link left by an earlier run.
func NewPTY(path string) (*PTY, error) {
	m, s, err := openPTY()
	if err != nil {
		return nil, fmt.Errorf("creating pty for %s: %w", path, err)
	}
	p := &PTY{Master: m, Path: path, Slave: s.Name(), slave: s}
	if err := p.setup(); err != nil {
		p.Close()
		return nil, fmt.Errorf("setting up pty %s: %w", path, err)
	}
	return p, nil
}

func (p *PTY) setup() error {
	rc, err := p.slave.SyscallConn()
	if err != nil {
		return err
	}
	var rawErr error
	if err := rc.Control(func(fd uintptr) { rawErr = makeRaw(int(fd), 0) }); err != nil {
		return err
	}
	if rawErr != nil {
		return rawErr
	}
	if err := os.MkdirAll(filepath.Dir(p.Path), 0o755); err != nil {
		return err
	}
	if err := os.Remove(p.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return os.Symlink(p.Slave, p.Path)
}

// Close removes the symlink and closes both sides.
func (p *PTY) Close() error {
	if l, err := os.Readlink(p.Path); err == nil && l == p.Slave {
		os.Remove(p.Path)
	}
	p.slave.Close()
	return p.Master.Close()
}

// openPTY opens a new pty pair, both sides non-blocking so that read
// deadlines work on them. (github.com/creack/pty switches the master to
// blocking mode, which would leave a server unable to time out a read.)
func openPTY() (master, slave *os.File, err error) {
	mfd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	n, err := unix.IoctlGetUint32(mfd, unix.TIOCGPTN)
	if err == nil {
		err = unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0)
	}
	if err != nil {
		unix.Close(mfd)
		return nil, nil, err
	}
	name := "/dev/pts/" + strconv.FormatUint(uint64(n), 10)
	sfd, err := unix.Open(name, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(mfd)
		return nil, nil, err
	}
	return os.NewFile(uintptr(mfd), "/dev/ptmx"), os.NewFile(uintptr(sfd), name), nil
}
