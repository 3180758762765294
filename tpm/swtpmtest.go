package tpm

import (
	"bytes"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// StartSWTPM starts a TPM 2.0 swtpm for the test, on free loopback TCP
// ports (the tests' backend in DESIGN) and a fresh state directory,
// already initialized and started (--flags not-need-init,startup-clear),
// and returns its spec for Open ("swtpm:127.0.0.1:PORT"). swtpm is killed
// when the test ends. The test fails if swtpm is not installed or does
// not come up.
//
// It is exported for the tests of the packages that use this one.
func StartSWTPM(t testing.TB) string {
	t.Helper()
	return startSWTPM(t, "tcp", "--flags", "not-need-init,startup-clear")
}

// startSWTPM starts swtpm on network "unix" or "tcp" (free loopback
// ports), with extra flags; see StartSWTPM.
func startSWTPM(t testing.TB, network string, flags ...string) string {
	t.Helper()
	bin, err := exec.LookPath("swtpm")
	if err != nil {
		t.Fatalf("swtpm is needed for this test: %v", err)
	}
	dir := t.TempDir()
	if network == "unix" {
		// Not in dir: a socket's path must fit in 108 bytes, and a test's
		// temporary directory is named after the test.
		sockDir, err := os.MkdirTemp("", "swtpm")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(sockDir) })
		spec := "swtpm:unix:" + filepath.Join(sockDir, "tpm.sock")
		if err := runSWTPM(t, bin, dir, spec, flags); err != nil {
			t.Fatalf("starting swtpm: %v", err)
		}
		return spec
	}
	var lastErr error
	for range 5 {
		port, err := FreePortPair()
		if err != nil {
			t.Fatalf("finding free ports for swtpm: %v", err)
		}
		spec := "swtpm:" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if lastErr = runSWTPM(t, bin, dir, spec, flags); lastErr == nil {
			return spec
		}
	}
	t.Fatalf("starting swtpm: %v", lastErr)
	return ""
}

// runSWTPM starts swtpm where spec says and waits until its data channel
// accepts connections. On success, swtpm is killed in t.Cleanup.
func runSWTPM(t testing.TB, bin, dir, spec string, flags []string) error {
	chans, network, addr, err := SWTPMListen(spec)
	if err != nil {
		return err
	}
	args := append([]string{"socket", "--tpm2", "--tpmstate", "dir=" + dir}, chans...)
	cmd := exec.Command(bin, append(args, flags...)...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop := func() { cmd.Process.Kill(); <-exited }

	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-exited:
			return fmt.Errorf("swtpm exited: %s", out.String())
		default:
		}
		if c, err := net.DialTimeout(network, addr, time.Second); err == nil {
			c.Close()
			t.Cleanup(stop)
			return nil
		}
		if time.Now().After(deadline) {
			stop()
			return fmt.Errorf("swtpm did not listen on %s: %s", addr, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// FreePortPair returns a loopback port P such that P and P+1, the data and
// control ports of an swtpm, were free a moment ago; swtpm may still lose a
// race for them, and the caller retries. The ports are drawn below the
// kernel's ephemeral range: ports it hands out are where outgoing
// connections and their TIME-WAIT remains crowd (tss2's swtpm TCTI opens a
// connection per command), and it hands out odd ports for bind, even ones
// for connect, so P+1 of a kernel-chosen P is often taken.
func FreePortPair() (int, error) {
	lo, hi := 10000, ephemeralLow()-2
	if hi <= lo {
		lo, hi = 1024, 65534
	}
	var err error
	for range 100 {
		port := lo + mrand.IntN(hi-lo)
		var l, l2 net.Listener
		if l, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err != nil {
			continue
		}
		l2, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+1)))
		l.Close()
		if err == nil {
			l2.Close()
			return port, nil
		}
	}
	return 0, fmt.Errorf("no two adjacent free loopback ports: %w", err)
}

// ephemeralLow returns the first port of the kernel's ephemeral range, or
// 32768, Linux's default, if it cannot be read.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	if n, err := strconv.Atoi(f[0]); err == nil {
		return n
	}
	return 32768
}

// syncBuffer collects swtpm's output, written and read from different
// goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
