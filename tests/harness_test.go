package tests

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tep.dev/tep/internal/tepdproc"
	"tep.dev/tep/link"
	"tep.dev/tep/provider/providertest"
)

// bin holds what TestMain built: tepd, the module and the C client.
var bin struct {
	dir, tepd, module, client, demo string
}

const (
	soPIN   = "87654321"
	userPIN = "1234"
)

func TestMain(m *testing.M) {
	if port := os.Getenv("TEP_E2E_HOLD_PORT"); port != "" {
		holdPort(port)
		return
	}
	if target := os.Getenv("TEP_E2E_HIJACK"); target != "" {
		os.Exit(hijack(target))
	}
	dir, err := os.MkdirTemp("", "tep-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := 1
	if err := build(dir); err != nil {
		fmt.Fprintln(os.Stderr, "building for the end-to-end tests:", err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func build(dir string) error {
	bin.dir = dir
	bin.tepd = filepath.Join(dir, "tepd")
	bin.module = filepath.Join(dir, "libtep_interface.so")
	bin.client = filepath.Join(dir, "p11client")
	bin.demo = filepath.Join(dir, "tep_test_app")
	for _, args := range [][]string{
		{"go", "build", "-o", bin.tepd, "../cmd/tepd"},
		{"go", "build", "-buildmode=c-shared", "-ldflags", providertest.LDFlags(), "-o", bin.module, "../provider"},
		{"gcc", "-Wall", "-Werror", "-I../c_headers", "-o", bin.client, "testdata/p11client.c", "-ldl"},
		{"gcc", "-Wall", "-Wextra", "-Werror", "-I../c_headers", "-o", bin.demo, "../demo/tep_test_app.c", bin.module, "-Wl,-rpath," + dir},
	} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// holdPort takes the port lock as a client would, says so, and waits to be
// killed: a client that dies while it holds the port.
func holdPort(port string) {
	s, lock, err := link.Dial(port, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer s.Close()
	if err := lock.Acquire(time.Now().Add(10 * time.Second)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("holding")
	time.Sleep(time.Minute)
}

// tepd is a running tepd with a token in slot 1.
type tepd struct {
	t         *testing.T
	state     string
	tpm       string
	srv       *tepdproc.Server
	port      string       // the ttyS4 symlink
	key       string       // the channel key tepd init printed, for TEP_SERVER_KEY
	serveArgs []string     // more arguments for tepd serve
	log       lockedBuffer // tepd's stderr, also copied to the test's
}

// lockedBuffer collects a process's output while the process writes it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startTepd initialises a state directory on tpmSpec (with more tepd init
// flags, if given) and serves it on ptys.
func startTepd(t *testing.T, tpmSpec string, initArgs ...string) *tepd {
	t.Helper()
	return startTepdServing(t, tpmSpec, nil, initArgs...)
}

// startTepdServing is startTepd with more arguments for tepd serve.
func startTepdServing(t *testing.T, tpmSpec string, serveArgs []string, initArgs ...string) *tepd {
	t.Helper()
	d := &tepd{t: t, state: t.TempDir(), tpm: tpmSpec, serveArgs: serveArgs}
	d.port = filepath.Join(d.state, "run", "ttyS4")
	cfg := d.config()
	cfg.InitArgs = initArgs
	key, err := tepdproc.Init(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d.key = key
	d.start()
	t.Cleanup(d.stop)
	return d
}

// config is how d's tepd runs: on ptys and on d.socket().
func (d *tepd) config() tepdproc.Config {
	return tepdproc.Config{Bin: bin.tepd, State: d.state, TPM: d.tpm, Label: "TEP Token", SOPIN: soPIN, UserPIN: userPIN,
		ServeArgs: append([]string{"--listen", "unix:" + d.socket(), "--log-level", "warn"}, d.serveArgs...),
		Output:    io.MultiWriter(os.Stderr, &d.log)}
}

func (d *tepd) start() {
	d.t.Helper()
	srv, err := tepdproc.Serve(d.config())
	if err != nil {
		d.t.Fatal(err)
	}
	d.srv = srv
}

// socket is the unix socket tepd also serves.
func (d *tepd) socket() string { return filepath.Join(d.state, "tep.sock") }

// stop ends tepd with SIGTERM, as a service manager would.
func (d *tepd) stop() {
	if d.srv == nil {
		return
	}
	if err := d.srv.Stop(); err != nil {
		d.t.Error(err)
	}
	d.srv = nil
}

// env is the environment of a client of d.
func (d *tepd) env(extra ...string) []string {
	return append(append(os.Environ(), "TEC_COMM_PORT="+d.port), extra...)
}

// tool runs pkcs11-tool on the module and returns its combined output.
func (d *tepd) tool(args ...string) (string, error) {
	cmd := exec.Command("pkcs11-tool", append([]string{"--module", bin.module}, args...)...)
	cmd.Env = d.env()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// clientCmd prepares the C client in a mode.
func (d *tepd) clientCmd(args ...string) *exec.Cmd {
	cmd := exec.Command(bin.client, append([]string{bin.module}, args...)...)
	cmd.Env = d.env()
	cmd.Stderr = os.Stderr
	return cmd
}

// results parses the C client's "what=0xRV" lines.
func results(out []byte) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			m[k] = v
		}
	}
	return m
}

// withTimeout runs cmd, killing it after d.
func withTimeout(cmd *exec.Cmd, d time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	c := exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	c.Env, c.Stdin, c.Stderr = cmd.Env, cmd.Stdin, cmd.Stderr
	return c.Output()
}
