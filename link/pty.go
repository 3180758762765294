package link

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"tep.dev/tep/internal/lockfile"
)

// PTY is a pseudo-terminal pair standing in for a virtual UART: the server
// reads and writes Master, clients open Path (a stable symlink to the
// slave device, such as run/ttyS4).
//
// A PTY holds a lock file beside its symlink (run/.ttyS4.lock) for its
// lifetime, so that two servers, even with different state, never take a
// link from each other; the link is removed on Close only if it still
// points at this pty.
type PTY struct {
	Master *os.File
	Path   string // the symlink clients open
	Slave  string // the device it points to, /dev/pts/N

	// slave is held open so that the master never reads EIO while no
	// client has the port open, and so the raw mode set here persists.
	slave *os.File
	lock  *lockfile.Lock
}

// NewPTY creates a pty pair in raw mode and points the symlink path at its
// slave side, replacing a stale link left by an earlier run. It refuses a
// path that another live process serves (a *lockfile.HeldError names it)
// and a path that is not a symlink.
func NewPTY(path string) (*PTY, error) {
	lock, err := claim(path)
	if err != nil {
		return nil, err
	}
	m, s, err := OpenPTY()
	if err != nil {
		lock.Release()
		return nil, fmt.Errorf("creating pty for %s: %w", path, err)
	}
	p := &PTY{Master: m, Path: path, Slave: s.Name(), slave: s, lock: lock}
	if err := p.setup(); err != nil {
		p.Close()
		return nil, fmt.Errorf("setting up pty %s: %w", path, err)
	}
	return p, nil
}

// claim takes the lock file that goes with a path this process is to serve
// on, creating the path's directory if need be.
func claim(path string) (*lockfile.Lock, error) {
	dir, name := filepath.Split(path)
	if err := os.MkdirAll(filepath.Clean(dir), 0o755); err != nil {
		return nil, fmt.Errorf("creating the directory of %s: %w", path, err)
	}
	l, err := lockfile.Acquire(filepath.Join(dir, "."+name+".lock"))
	if err != nil {
		return nil, fmt.Errorf("claiming %s: %w", path, err)
	}
	return l, nil
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
	// A link left by an earlier run is stale: its server held the lock we
	// now hold. Anything but a link is someone else's file.
	if fi, err := os.Lstat(p.Path); err == nil && fi.Mode()&os.ModeSymlink == 0 {
		return fmt.Errorf("%s exists and is not a symlink", p.Path)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	// A new link renamed over the old one: clients never see the path
	// missing.
	tmp := filepath.Join(filepath.Dir(p.Path), "."+filepath.Base(p.Path)+".new")
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.Symlink(p.Slave, tmp); err != nil {
		return err
	}
	return os.Rename(tmp, p.Path)
}

// Close removes the symlink if it still points at this pty (someone may
// have replaced it), closes both sides and lets the path go.
func (p *PTY) Close() error {
	if l, err := os.Readlink(p.Path); err == nil && l == p.Slave {
		os.Remove(p.Path)
	}
	p.slave.Close()
	err := p.Master.Close()
	p.lock.Release()
	return err
}

// OpenPTY opens a new pty pair, both sides non-blocking so that read
// deadlines work on them; neither is a controlling terminal. Tests of
// commands that behave differently at a terminal use it too. (github.com/creack/pty switches the master to
// blocking mode, which would leave a server unable to time out a read.)
func OpenPTY() (master, slave *os.File, err error) {
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
