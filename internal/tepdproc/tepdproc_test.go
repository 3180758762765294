package tepdproc

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// tepdBin is the tepd that TestMain built.
var tepdBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tepdproc")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tepdBin = filepath.Join(dir, "tepd")
	code := 1
	if out, err := exec.Command("go", "build", "-o", tepdBin, "../../cmd/tepd").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building tepd: %v\n%s", err, out)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func config(t *testing.T) Config {
	return Config{Bin: tepdBin, State: t.TempDir(), TPM: "sim", Label: "tepdproc", SOPIN: "87654321", UserPIN: "1234",
		ServeArgs: []string{"--log-level", "warn"}}
}

// TestStartStop starts a token, checks its ports and key, that a second
// tepd on the same state is refused with tepd's reason, and that the
// token serves again after Stop.
func TestStartStop(t *testing.T) {
	cfg := config(t)
	srv, key, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if key == "" {
		t.Error("Start returned no channel key")
	}
	if len(srv.Ports) != len(portNames) {
		t.Errorf("%d ports, want %d", len(srv.Ports), len(portNames))
	}
	for _, p := range srv.Ports {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("port %s: %v", p, err)
		}
	}
	if again, err := Serve(cfg); err == nil {
		again.Stop()
		t.Error("a second Serve on a served state succeeded, want an error")
	} else if !strings.Contains(err.Error(), strconv.Itoa(srv.Pid())) {
		t.Errorf("second Serve: %v, want the serving tepd named", err)
	}
	// The refused second tepd left the first one's ports alone.
	for _, p := range srv.Ports {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("port %s after a second Serve: %v", p, err)
		}
	}
	if err := srv.Stop(); err != nil {
		t.Errorf("Stop = %v", err)
	}
	if err := srv.Stop(); err != nil {
		t.Errorf("second Stop = %v", err)
	}
	// A port link that a killed tepd left behind is not taken for the
	// new tepd's.
	last := srv.Ports[len(srv.Ports)-1]
	if err := os.Symlink("/nonexistent/pty", last); err != nil {
		t.Fatal(err)
	}
	srv, err = Serve(cfg)
	if err != nil {
		t.Fatalf("Serve after Stop = %v", err)
	}
	if target, err := os.Readlink(last); err != nil || target == "/nonexistent/pty" {
		t.Errorf("%s -> %q, %v; want the new tepd's pty", last, target, err)
	}
	if err := srv.Stop(); err != nil {
		t.Errorf("Stop = %v", err)
	}
}

func TestInitFails(t *testing.T) {
	cfg := config(t)
	cfg.TPM = "swtpm:unix:/nonexistent/tpm.sock"
	if _, err := Init(cfg); err == nil || !strings.Contains(err.Error(), "tepd init") {
		t.Errorf("Init on a missing TPM = %v, want tepd init's error", err)
	}
	cfg = config(t)
	cfg.ServeArgs = []string{"--no-such-flag"}
	if _, _, err := Start(cfg); err == nil || !strings.Contains(err.Error(), "exited") {
		t.Errorf("Serve with a bad flag = %v, want tepd's exit", err)
	}
}

func TestListenPaths(t *testing.T) {
	got := listenPaths([]string{"--listen", "unix:/a.sock", "--log-level", "warn", "--listen=unix:/b.sock", "--listen", "tcp:x", "--listen"})
	if len(got) != 2 || got[0] != "/a.sock" || got[1] != "/b.sock" {
		t.Errorf("listenPaths = %q, want [/a.sock /b.sock]", got)
	}
}

// TestServeListening: when Serve returns, a --listen socket accepts a
// connection at once, however often it is tried (a socket's file exists
// from bind, before listen: TestHijack once dialled into that gap).
func TestServeListening(t *testing.T) {
	cfg := config(t)
	sock := filepath.Join(cfg.State, "tep.sock")
	cfg.ServeArgs = append(cfg.ServeArgs, "--listen", "unix:"+sock)
	if _, err := Init(cfg); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		srv, err := Serve(cfg)
		if err != nil {
			t.Fatal(err)
		}
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Errorf("round %d: dialling right after Serve: %v", i, err)
		} else {
			c.Close()
		}
		if err := srv.Stop(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAllListening(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s")
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: sock}); err != nil {
		t.Fatal(err)
	}
	if allListening([]string{sock}) {
		t.Error("a socket bound but not listening counts as listening")
	}
	if err := syscall.Listen(fd, 1); err != nil {
		t.Fatal(err)
	}
	if !allListening([]string{sock}) {
		t.Error("a listening socket does not count as listening")
	}
}
