package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"tep.dev/tep/link"
)

// TestMain lets the test binary run as tepd itself (TEPD_TEST_MAIN=1), so
// that the tests below start real tepd processes without a build.
func TestMain(m *testing.M) {
	if os.Getenv("TEPD_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// tepdCmd prepares a tepd process.
func tepdCmd(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "TEPD_TEST_MAIN=1")
	return cmd
}

// served is a tepd serve process.
type served struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
}

// initState makes a state directory with a token, in this process.
func initState(t *testing.T) string {
	t.Helper()
	state := t.TempDir()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"init", "--state", state, "--tpm", "sim", "--so-pin", "87654321", "--user-pin", "1234"}, &out, &out); err != nil {
		t.Fatalf("init: %v\n%s", err, out.String())
	}
	return state
}

// serveState starts tepd serve on state, with ptys in state/run and a
// socket state/tep.sock, and returns once tepd said READY=1 on a notify
// socket, as it would to systemd.
func serveState(t *testing.T, state string) *served {
	t.Helper()
	notifyPath := filepath.Join(t.TempDir(), "notify")
	nl, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notifyPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	s := &served{stderr: new(bytes.Buffer)}
	s.cmd = tepdCmd("serve", "--state", state, "--tpm", "sim", "--pty", filepath.Join(state, "run"),
		"--listen", "unix:"+filepath.Join(state, "tep.sock"), "--log-level", "warn")
	s.cmd.Env = append(s.cmd.Env, "NOTIFY_SOCKET="+notifyPath)
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.cmd.Process.Kill(); s.cmd.Wait() })
	nl.SetReadDeadline(time.Now().Add(60 * time.Second))
	buf := make([]byte, 256)
	n, err := nl.Read(buf)
	if err != nil || string(buf[:n]) != "READY=1" {
		t.Fatalf("tepd's first notification: %q, %v; want READY=1\n%s", buf[:n], err, s.stderr)
	}
	return s
}

// stop ends tepd with SIGTERM, as systemd does, and wants a clean exit.
func (s *served) stop(t *testing.T) {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	if err := s.cmd.Wait(); err != nil {
		t.Errorf("tepd after SIGTERM: %v\n%s", err, s.stderr)
	}
}

// refused runs a tepd command that must fail at once and returns what it
// said.
func refused(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := tepdCmd(args...)
	c := exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	c.Env = cmd.Env
	out, err := c.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("tepd %s: %v, want exit status 1\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// ping makes one call through addr (a tty link or unix:PATH).
func ping(t *testing.T, addr string) {
	t.Helper()
	s, lock, err := link.Dial(addr, 0)
	if err != nil {
		t.Fatalf("dialling %s: %v", addr, err)
	}
	defer s.Close()
	c := link.NewClient(s, lock, 42, 10*time.Second, link.Config{})
	if err := c.Ping(context.Background()); err != nil {
		t.Fatalf("ping through %s: %v", addr, err)
	}
}

// TestSecondTepdRefused: a second tepd serve on the same state, tepd init
// on it, and a tepd with other state on the same pty directory are all
// refused with the first one's PID, and the first keeps serving through
// its links.
func TestSecondTepdRefused(t *testing.T) {
	state := initState(t)
	first := serveState(t, state)
	pid := strconv.Itoa(first.cmd.Process.Pid)
	port := filepath.Join(state, "run", "ttyS4")
	before, err := os.Readlink(port)
	if err != nil {
		t.Fatal(err)
	}
	other := initState(t)
	for _, args := range [][]string{
		{"serve", "--state", state, "--tpm", "sim", "--pty", filepath.Join(state, "run")},
		{"serve", "--state", state, "--tpm", "sim", "--listen", "unix:" + filepath.Join(t.TempDir(), "s")},
		{"init", "--state", state, "--tpm", "sim", "--so-pin", "87654321", "--user-pin", "1234"},
		{"serve", "--state", other, "--tpm", "sim", "--pty", filepath.Join(state, "run")},
		{"serve", "--state", other, "--tpm", "sim", "--listen", "unix:" + filepath.Join(state, "tep.sock")},
	} {
		if out := refused(t, args...); !strings.Contains(out, "process "+pid) {
			t.Errorf("tepd %s said %q; want the holder's PID %s named", strings.Join(args, " "), out, pid)
		}
	}
	if after, err := os.Readlink(port); err != nil || after != before {
		t.Errorf("after the refusals %s points at %q, %v; want the first tepd's %q", port, after, err, before)
	}
	ping(t, port)
	ping(t, "unix:"+filepath.Join(state, "tep.sock"))
	first.stop(t)
	for _, f := range []string{"run/ttyS4", "run/ttyS9", "tep.sock", stateLockName} {
		if _, err := os.Lstat(filepath.Join(state, f)); err == nil {
			t.Errorf("tepd left %s behind", f)
		}
	}
}

// TestPIDFileRemovedStillRefused: the lock is on the state directory, so
// removing its PID file frees nothing: a second tepd serve or init is
// still refused (without a PID to name), and the first keeps serving.
func TestPIDFileRemovedStillRefused(t *testing.T) {
	state := initState(t)
	first := serveState(t, state)
	if err := os.Remove(filepath.Join(state, stateLockName)); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"serve", "--state", state, "--tpm", "sim", "--listen", "unix:" + filepath.Join(t.TempDir(), "s")},
		{"init", "--state", state, "--tpm", "sim", "--so-pin", "87654321", "--user-pin", "1234"},
	} {
		if out := refused(t, args...); !strings.Contains(out, "locked by another process") {
			t.Errorf("tepd %s said %q; want the state named as locked", strings.Join(args, " "), out)
		}
	}
	ping(t, filepath.Join(state, "run", "ttyS4"))
	first.stop(t)
}

// TestKilledTepdDoesNotBlock: a tepd killed by SIGKILL leaves its lock
// files, links and socket behind, and the next tepd starts over them.
func TestKilledTepdDoesNotBlock(t *testing.T) {
	state := initState(t)
	first := serveState(t, state)
	first.cmd.Process.Kill()
	first.cmd.Wait()
	b, err := os.ReadFile(filepath.Join(state, stateLockName))
	if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(first.cmd.Process.Pid) {
		t.Fatalf("the killed tepd's lock file holds %q, %v; want its PID", b, err)
	}
	second := serveState(t, state)
	ping(t, filepath.Join(state, "run", "ttyS4"))
	ping(t, "unix:"+filepath.Join(state, "tep.sock"))
	second.stop(t)
}

// TestReplacedLinksKept: links and sockets someone else put in tepd's
// place are not tepd's to remove at exit.
func TestReplacedLinksKept(t *testing.T) {
	state := initState(t)
	s := serveState(t, state)
	link5 := filepath.Join(state, "run", "ttyS5")
	if err := os.Remove(link5); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/null", link5); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(state, "tep.sock")
	os.Remove(sock)
	theirs, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer theirs.Close()
	s.stop(t)
	if l, err := os.Readlink(link5); err != nil || l != "/dev/null" {
		t.Errorf("after tepd's exit ttyS5 is %q, %v; want the replacement kept", l, err)
	}
	if _, err := os.Lstat(sock); err != nil {
		t.Errorf("tepd removed a socket it did not make: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(state, "run", "ttyS4")); err == nil {
		t.Error("tepd left its own ttyS4 link behind")
	}
}
