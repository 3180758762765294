package link

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"

	"tep.dev/tep/internal/lockfile"
)

// TestPTYRefusesServedLink: a second server on a link that a live one
// serves is refused and leaves the link pointing at the first.
func TestPTYRefusesServedLink(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ttyS4")
	p, err := NewPTY(path)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var held *lockfile.HeldError
	if q, err := NewPTY(path); !errors.As(err, &held) || held.PID != os.Getpid() {
		if q != nil {
			q.Close()
		}
		t.Fatalf("second NewPTY on a served link = %v, want a HeldError naming PID %d", err, os.Getpid())
	}
	if l, err := os.Readlink(path); err != nil || l != p.Slave {
		t.Errorf("after the refusal the link is %q, %v; want the first's %q", l, err, p.Slave)
	}
}

// TestPTYReplacesStaleLink: a link and lock file left by a server that
// died are taken over.
func TestPTYReplacesStaleLink(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ttyS4")
	if err := os.Symlink("/dev/pts/999999", path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".ttyS4.lock"), []byte("999999999\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := NewPTY(path)
	if err != nil {
		t.Fatalf("NewPTY over a stale link: %v", err)
	}
	if l, err := os.Readlink(path); err != nil || l != p.Slave {
		t.Errorf("link = %q, %v; want %q", l, err, p.Slave)
	}
	p.Close()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Close left its own link: %v", err)
	}
}

// TestPTYKeepsReplacedLink: a link that someone else pointed elsewhere is
// theirs, and Close leaves it.
func TestPTYKeepsReplacedLink(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ttyS4")
	p, err := NewPTY(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/null", path); err != nil {
		t.Fatal(err)
	}
	p.Close()
	if l, err := os.Readlink(path); err != nil || l != "/dev/null" {
		t.Errorf("after Close the link is %q, %v; want the replacement /dev/null", l, err)
	}
}

func TestPTYRefusesNonLink(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ttyS4")
	if err := os.WriteFile(path, []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	if p, err := NewPTY(path); err == nil {
		p.Close()
		t.Fatal("NewPTY replaced a regular file")
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "mine" {
		t.Errorf("the file is now %q, %v", b, err)
	}
	if p, err := NewPTY(path); err == nil { // the refusal let the lock go
		p.Close()
		t.Fatal("NewPTY replaced a regular file the second time")
	} else if errors.As(err, new(*lockfile.HeldError)) {
		t.Errorf("second try: %v; the first refusal kept the lock", err)
	}
}

// TestUnixListenerClaims: a second listener on a served path is refused,
// so is a path where a server without our lock listens, a stale socket
// is replaced, and Close removes only the socket it made.
func TestUnixListenerClaims(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tep.sock")
	l, err := ListenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ListenUnix(path); !errors.As(err, new(*lockfile.HeldError)) {
		t.Errorf("second ListenUnix = %v, want a HeldError", err)
	}
	// Someone replaces the socket; our Close must leave theirs.
	os.Remove(path)
	theirs, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if fi, err := os.Lstat(path); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("Close removed a socket it did not make: %v", err)
	}
	if _, err := ListenUnix(path); err == nil {
		t.Error("ListenUnix took a path where another server accepts")
	}
	// Theirs dies without removing its file: a stale socket, taken over.
	theirs.SetUnlinkOnClose(false)
	theirs.Close()
	l, err = ListenUnix(path)
	if err != nil {
		t.Fatalf("ListenUnix over a stale socket: %v", err)
	}
	l.UnixListener.Close() // as a serve loop does when it stops
	if err := l.Close(); err != nil {
		t.Errorf("Close after the listener was closed: %v", err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Close left its own socket: %v", err)
	}
}
