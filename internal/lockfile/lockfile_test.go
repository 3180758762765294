package lockfile

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestMain lets the test binary stand in for another process that holds a
// lock: LOCKFILE_HOLD=PATH takes it, says so, and waits to be killed.
func TestMain(m *testing.M) {
	if path := os.Getenv("LOCKFILE_HOLD"); path != "" {
		acquire := Acquire
		if dir, name, ok := strings.Cut(path, "//"); ok {
			acquire = func(string) (*Lock, error) { return AcquireDir(dir, name) }
		}
		if _, err := acquire(path); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		fmt.Println("holding")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// holder starts another process that holds the lock at path.
func holder(t *testing.T, path string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "LOCKFILE_HOLD="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "holding\n" {
		t.Fatalf("holder said %q", line)
	}
	return cmd
}

func TestHeldByAnotherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tepd.lock")
	h := holder(t, path)
	_, err := Acquire(path)
	var held *HeldError
	if !errors.As(err, &held) || held.PID != h.Process.Pid {
		t.Fatalf("Acquire while held = %v, want a HeldError naming %d", err, h.Process.Pid)
	}
	if !strings.Contains(err.Error(), strconv.Itoa(h.Process.Pid)) {
		t.Errorf("message %q does not name the holder", err)
	}
}

// TestKilledHolderFreesLock: a holder killed by SIGKILL leaves its file and
// PID behind, and they block nobody.
func TestKilledHolderFreesLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tepd.lock")
	h := holder(t, path)
	h.Process.Kill()
	h.Wait()
	if b, err := os.ReadFile(path); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(h.Process.Pid) {
		t.Fatalf("after the kill the file holds %q, %v; want the dead holder's PID", b, err)
	}
	l, err := Acquire(path)
	if err != nil {
		t.Fatalf("Acquire after the holder was killed: %v", err)
	}
	defer l.Release()
	if b, _ := os.ReadFile(path); strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		t.Errorf("lock file holds %q, want this process's PID %d", b, os.Getpid())
	}
}

// TestHeldWithinProcess: a second Acquire in the same process is refused
// too, as a second tepd run in-process by a test would be.
func TestHeldWithinProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	l, err := Acquire(path)
	if err != nil {
		t.Fatal(err)
	}
	var held *HeldError
	if _, err := Acquire(path); !errors.As(err, &held) || held.PID != os.Getpid() {
		t.Fatalf("second Acquire = %v, want a HeldError naming this process", err)
	}
	l.Release()
	l.Release()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Release left the file: %v", err)
	}
	l2, err := Acquire(path)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	l2.Release()
}

// TestReleaseKeepsReplacement: Release removes only the file it holds.
func TestReleaseKeepsReplacement(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	l, err := Acquire(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("someone else's\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l.Release()
	if b, err := os.ReadFile(path); err != nil || string(b) != "someone else's\n" {
		t.Errorf("after Release the replacement is %q, %v; want it untouched", b, err)
	}
}

func TestAcquireErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Acquire(filepath.Join(dir, "missing", "x.lock")); err == nil {
		t.Error("Acquire in a missing directory succeeded")
	}
	if _, err := Acquire(dir); err == nil {
		t.Error("Acquire on a directory succeeded")
	}
}

// TestHeldBeforePIDWritten: a holder that has the flock but has not yet
// written its PID is still reported, without a made-up PID.
func TestHeldBeforePIDWritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	var held *HeldError
	if _, err := Acquire(path); !errors.As(err, &held) || held.PID != 0 || !strings.Contains(err.Error(), "another process") {
		t.Errorf("Acquire = %v, want a HeldError without a PID", err)
	}
}

// TestDirLock: a directory held by another process is refused with the
// PID from its PID file; with the PID file removed, still refused (PID 0);
// once the holder is killed, the directory is free.
func TestDirLock(t *testing.T) {
	dir := t.TempDir()
	h := holder(t, dir+"//tepd.lock")
	var held *HeldError
	if _, err := AcquireDir(dir, "tepd.lock"); !errors.As(err, &held) || held.PID != h.Process.Pid || held.Path != dir {
		t.Fatalf("AcquireDir while held = %v, want a HeldError on %s naming %d", err, dir, h.Process.Pid)
	}
	if err := os.Remove(filepath.Join(dir, "tepd.lock")); err != nil {
		t.Fatal(err)
	}
	if _, err := AcquireDir(dir, "tepd.lock"); !errors.As(err, &held) || held.PID != 0 {
		t.Fatalf("AcquireDir with the PID file removed = %v, want a HeldError without a PID", err)
	}
	h.Process.Kill()
	h.Wait()
	l, err := AcquireDir(dir, "tepd.lock")
	if err != nil {
		t.Fatalf("AcquireDir after the holder was killed: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "tepd.lock")); strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		t.Errorf("PID file holds %q, want %d", b, os.Getpid())
	}
	if _, err := AcquireDir(dir, "tepd.lock"); !errors.As(err, &held) || held.PID != os.Getpid() {
		t.Errorf("second AcquireDir in this process = %v, want a HeldError naming it", err)
	}
	l.Release()
	l.Release()
	if _, err := os.Lstat(filepath.Join(dir, "tepd.lock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Release left the PID file: %v", err)
	}
}

func TestAcquireDirErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := AcquireDir(filepath.Join(dir, "missing"), "x"); err == nil {
		t.Error("AcquireDir of a missing directory succeeded")
	}
	f := filepath.Join(dir, "file")
	os.WriteFile(f, nil, 0o600)
	if _, err := AcquireDir(f, "x"); err == nil {
		t.Error("AcquireDir of a file succeeded")
	}
	ro := filepath.Join(dir, "ro")
	os.Mkdir(ro, 0o500)
	if os.Getuid() != 0 {
		if _, err := AcquireDir(ro, "x"); err == nil {
			t.Error("AcquireDir where the PID file cannot be written succeeded")
		}
	}
}
