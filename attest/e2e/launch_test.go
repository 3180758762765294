package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tep.dev/tep/attest/store"
)

// launchVerifier builds tep-verifier and starts serve on a free port,
// trusting the EK CAs in ekCAs; args follow the defaults (the flag
// package keeps the last value), and its log goes to stderr (the test's
// own when nil).
func launchVerifier(tb testing.TB, dir string, ekCAs []string, stderr io.Writer, args ...string) *verifierProc {
	tb.Helper()
	v := &verifierProc{bin: filepath.Join(dir, "tep-verifier"), state: filepath.Join(dir, "verifier")}
	if out, err := exec.Command("go", "build", "-o", v.bin, "tep.dev/tep/cmd/tep-verifier").CombinedOutput(); err != nil {
		tb.Fatalf("building tep-verifier: %v\n%s", err, out)
	}
	token := func(role string) string {
		out, err := exec.Command(v.bin, "token", "create", "--state", v.state, "--role", role, "--json").Output()
		if err != nil {
			tb.Fatalf("token create: %v", err)
		}
		var t struct{ Token string }
		json.Unmarshal(out, &t)
		return t.Token
	}
	os.MkdirAll(v.state, 0o700)
	v.admin = token(store.RoleAdmin)
	v.enrolTokenFunc = func(testing.TB) string { return token(store.RoleEnroll) }
	port := freePort(tb)
	cmdArgs := []string{"serve", "--state", v.state, "--listen", "127.0.0.1:" + port,
		"--pull-interval", "0", "--log-level", "warn", "--san", "127.0.0.1"}
	for _, ca := range ekCAs {
		cmdArgs = append(cmdArgs, "--ek-ca", ca)
	}
	v.cmd = exec.Command(v.bin, append(cmdArgs, args...)...)
	v.cmd.Stderr = stderr
	if stderr == nil {
		v.cmd.Stderr = os.Stderr
	}
	if err := v.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { v.cmd.Process.Kill(); v.cmd.Wait() })
	v.url = "https://127.0.0.1:" + port
	for range 100 {
		if b, err := os.ReadFile(filepath.Join(v.state, "tls-cert.pem")); err == nil {
			v.certPEM = b
			c := v.client(tb, "")
			if c.Do(context.Background(), "GET", "/v1/health", nil, nil) == nil {
				return v
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.Fatal("tep-verifier serve did not come up")
	return nil
}

// logWatch keeps a process' log, which a test waits on.
type logWatch struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logWatch) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	os.Stderr.Write(p)
	return l.b.Write(p)
}

func (l *logWatch) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitFor waits until the log holds s; limit only bounds a hung test.
func (l *logWatch) waitFor(tb testing.TB, s string, limit time.Duration) {
	tb.Helper()
	for end := time.Now().Add(limit); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(l.String(), s) {
			return
		}
	}
	tb.Fatalf("the log never said %q:\n%s", s, l.String())
}
