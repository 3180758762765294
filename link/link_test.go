package link

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"golang.org/x/sys/unix"
	"tep.dev/tep/wire"
)

// TestMain doubles as a client process for the multi-process tests: with
// TEP_LINK_HELPER set, the test binary runs a helper and exits.
func TestMain(m *testing.M) {
	if mode := os.Getenv("TEP_LINK_HELPER"); mode != "" {
		if err := runHelper(mode, os.Getenv("TEP_LINK_PORT")); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runHelper(mode, port string) error {
	s, lock, err := Dial(port, 0)
	if err != nil {
		return err
	}
	defer s.Close()
	id := rand.Uint64()
	switch mode {
	case "echo":
		n, _ := strconv.Atoi(os.Getenv("TEP_LINK_CALLS"))
		c := NewClient(s, lock, id, 10*time.Second, Config{})
		for i := 0; i < n; i++ {
			if err := echoOnce(c, fmt.Appendf(nil, "client %x call %d", id, i)); err != nil {
				return fmt.Errorf("call %d: %w", i, err)
			}
		}
		return nil
	case "die-mid-write":
		// Take the port, write half a frame, say so, and wait to be killed.
		if err := lock.Acquire(time.Time{}); err != nil {
			return err
		}
		msg := (&wire.Message{Version: wire.Version, Type: wire.Invocation, Client: id, Seq: 1, Body: packBytes(make([]byte, 4000))}).Append(nil)
		f := wire.AppendFrames(nil, msg)
		s.Write(f[:len(f)/2])
		fmt.Println("holding")
		time.Sleep(time.Minute)
	}
	return fmt.Errorf("unknown helper mode %q", mode)
}

func packBytes(p []byte) []byte {
	b, err := msgpack.Marshal(p)
	if err != nil {
		panic(err)
	}
	return b
}

// echoOnce pings with payload and checks that the same bytes come back.
func echoOnce(c *Client, payload []byte) error {
	body := packBytes(payload)
	return c.Call(context.Background(), wire.FuncPing, body, func(reply []byte) error {
		if !bytes.Equal(reply, body) {
			return fmt.Errorf("echo of %d bytes came back as %d different bytes", len(body), len(reply))
		}
		return nil
	})
}

// startServer serves a new pty and returns its path and a function that
// stops the server and returns the server's counters.
func startServer(t *testing.T, cfg Config, h Handler) (string, func() Stats) {
	t.Helper()
	p, err := NewPTY(filepath.Join(t.TempDir(), "ttyS4"))
	if err != nil {
		t.Fatal(err)
	}
	if h == nil {
		h = func(*wire.Message, *wire.Message) bool { return true }
	}
	// The server's end is tepd's: a SpinFile, here one that never spins.
	st, err := NewSpinFile(p.Master, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := NewConn(st, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, conn, h) }()
	var once sync.Once
	var stats Stats
	stop := func() Stats {
		once.Do(func() {
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("Serve returned %v, want context.Canceled", err)
			}
			stats = conn.Stats()
			st.Close()
			p.Close()
		})
		return stats
	}
	t.Cleanup(func() { stop() })
	return p.Path, stop
}

func dialClient(t testing.TB, path string) *Client {
	t.Helper()
	s, lock, err := Dial(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return NewClient(s, lock, rand.Uint64(), 5*time.Second, Config{})
}

func TestEchoSizes(t *testing.T) {
	path, stop := startServer(t, Config{}, nil)
	c := dialClient(t, path)
	for _, n := range []int{0, 1, 32, wire.MaxBody - 20, wire.MaxBody, 4 << 10, 64 << 10, 1 << 20, 16 << 20} {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(i*31 + n)
		}
		if err := echoOnce(c, p); err != nil {
			t.Fatalf("echo of %d bytes: %v", n, err)
		}
	}
	if st := stop(); st.Dropped != 0 || st.Broken != 0 {
		t.Errorf("server dropped data on a clean line: %+v", st)
	}
}

func TestUnixSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tep.sock")
	l, err := ListenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		Serve(context.Background(), NewConn(c.(Stream), Config{}), nil)
	}()
	s, lock, err := Dial("unix:"+path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := NewClient(s, lock, 1, time.Second, Config{})
	if err := echoOnce(c, bytes.Repeat([]byte("u"), 200<<10)); err != nil {
		t.Fatal(err)
	}
	if _, err := ListenUnix(path); err == nil {
		t.Error("a second ListenUnix on a live socket succeeded")
	}
}

// TestNoise writes broken input straight onto the client side of a pty,
// then one valid call; the server must deliver that call intact.
func TestNoise(t *testing.T) {
	var mu sync.Mutex
	var got [][]byte
	h := func(req, _ *wire.Message) bool {
		mu.Lock()
		got = append(got, bytes.Clone(req.Body))
		mu.Unlock()
		return true
	}
	path, stop := startServer(t, Config{IdleGap: 50 * time.Millisecond}, h)
	tty, err := OpenTTY(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()

	r := rand.New(rand.NewPCG(3, 4))
	garbage := make([]byte, 20000)
	for i := range garbage {
		garbage[i] = byte(r.Uint32())
	}
	frameOf := func(seq uint32, n int) []byte {
		m := wire.Message{Version: wire.Version, Type: wire.Oneway, Func: 7, Client: 9, Seq: seq, Body: packBytes(bytes.Repeat([]byte{byte(seq)}, n))}
		return wire.AppendFrames(nil, m.Append(nil))
	}
	badBody := frameOf(100, 50)
	badBody[len(badBody)-5] ^= 1
	badHeader := frameOf(101, 50)
	badHeader[8] ^= 1
	absurd := frameOf(102, 50)
	absurd[13] = 0x7f // total of about 2 GiB
	c := wire.CRC16(absurd[6:wire.HeaderSize])
	absurd[4], absurd[5] = byte(c), byte(c>>8)
	long := frameOf(103, 5000)

	cases := []struct {
		name  string
		noise []byte
	}{
		{"garbage", garbage},
		{"truncated frame", long[:2000]},
		{"truncated frame, then garbage", append(bytes.Clone(long[:100]), garbage[:300]...)},
		{"bad body CRC", badBody},
		{"bad header CRC", badHeader},
		{"absurd length", absurd},
		{"half a multi-frame message", frameOf(104, 100000)[:wire.MaxFrame+10]},
	}
	for i, tc := range cases {
		seq := uint32(i + 1)
		valid := frameOf(seq, 1000+i)
		if _, err := tty.Write(append(bytes.Clone(tc.noise), valid...)); err != nil {
			t.Fatal(err)
		}
		want := packBytes(bytes.Repeat([]byte{byte(seq)}, 1000+i))
		deadline := time.Now().Add(5 * time.Second)
		for {
			mu.Lock()
			n := len(got)
			mu.Unlock()
			if n == i+1 || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		mu.Lock()
		if len(got) != i+1 || !bytes.Equal(got[i], want) {
			t.Fatalf("%s: server received %d calls, want %d with the valid call last", tc.name, len(got), i+1)
		}
		mu.Unlock()
	}
	st := stop()
	if st.Dropped == 0 || st.BadBody == 0 || st.BadHeader == 0 || st.BadLength == 0 || st.Truncated == 0 || st.Broken == 0 {
		t.Errorf("noise not counted: %+v", st)
	}
}

func helperCmd(t *testing.T, mode, port string, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "TEP_LINK_HELPER="+mode, "TEP_LINK_PORT="+port)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	return cmd
}

// TestTwoProcessesShareOnePty runs two client processes on one pty, 1,000
// calls each at once: every reply must come back to its caller, and the
// server must never see two frames interleaved.
func TestTwoProcessesShareOnePty(t *testing.T) {
	path, stop := startServer(t, Config{}, nil)
	var cmds []*exec.Cmd
	for i := 0; i < 2; i++ {
		cmd := helperCmd(t, "echo", path, "TEP_LINK_CALLS=1000")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("client process %d: %v", i, err)
		}
	}
	st := stop()
	if st.Messages != 2000 || st.Dropped != 0 || st.BadHeader+st.BadBody+st.BadLength+st.Truncated+st.Broken != 0 {
		t.Errorf("server saw %+v, want 2000 clean messages", st)
	}
}

// TestClientKilledMidWrite kills a client that holds the port after
// writing half a frame; the next client must get through.
func TestClientKilledMidWrite(t *testing.T) {
	path, _ := startServer(t, Config{IdleGap: 100 * time.Millisecond}, nil)
	cmd := helperCmd(t, "die-mid-write", path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line := make([]byte, 8)
	if _, err := out.Read(line); err != nil || !bytes.HasPrefix(line, []byte("holding")) {
		t.Fatalf("helper did not take the port: %q, %v", line, err)
	}
	c := dialClient(t, path)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	err = c.Ping(ctx)
	cancel()
	if !errors.Is(err, ErrLockTimeout) {
		t.Fatalf("Ping while another process holds the port: %v, want ErrLockTimeout", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if err := echoOnce(c, []byte("after the kill")); err != nil {
		t.Fatalf("call after the holder was killed: %v", err)
	}
}

// TestStaleReplyDropped: a reply that arrives after its caller gave up is
// read by the next caller, who must drop it and wait for its own.
func TestStaleReplyDropped(t *testing.T) {
	slow := make(chan struct{})
	h := func(req, reply *wire.Message) bool {
		if req.Func == 5 {
			<-slow
		}
		reply.Body = req.Body
		return true
	}
	path, _ := startServer(t, Config{}, h)
	a, b := dialClient(t, path), dialClient(t, path)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	err := a.Call(ctx, 5, packBytes([]byte("late")), nil)
	cancel()
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("slow call: %v, want ErrTimeout", err)
	}
	close(slow) // the late reply is now on the line
	if err := echoOnce(b, []byte("mine")); err != nil {
		t.Fatal(err)
	}
	if b.Stale() != 1 {
		t.Errorf("client b dropped %d stale replies, want 1", b.Stale())
	}
}

func TestLockAcrossDescriptors(t *testing.T) {
	path, _ := startServer(t, Config{}, nil)
	f1, err := OpenTTY(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f1.Close()
	f2, err := OpenTTY(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f2.Close()
	l1, l2 := NewLock(f1), NewLock(f2)
	if err := l1.Acquire(time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := l2.Acquire(time.Now().Add(30 * time.Millisecond)); !errors.Is(err, ErrLockTimeout) {
		t.Fatalf("second lock while the first is held: %v, want ErrLockTimeout", err)
	}
	got := make(chan error, 1)
	go func() { got <- l2.Acquire(time.Time{}) }()
	time.Sleep(10 * time.Millisecond)
	l1.Release()
	if err := <-got; err != nil {
		t.Fatalf("second lock after release: %v", err)
	}
	l2.Release()
}

func TestServeStopsWhenCancelled(t *testing.T) {
	_, stop := startServer(t, Config{}, nil)
	done := make(chan struct{})
	go func() { stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after its context was cancelled")
	}
}

func TestVersionMismatch(t *testing.T) {
	path, _ := startServer(t, Config{}, nil)
	s, _, err := Dial(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := NewConn(s, Config{})
	// A call in another version, whatever its function, gets no answer:
	// an answer would copy a stranger's function id in clear under the
	// id and sequence number it chose.
	for seq, fn := range []uint16{3, wire.FuncNoChannel, wire.FuncSealed} {
		if err := c.Send(&wire.Message{Version: 99, Type: wire.Invocation, Func: fn, Client: 1, Seq: uint32(seq + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	// A ping in another version is how an old client learns the server's.
	if err := c.Send(&wire.Message{Version: 99, Type: wire.Invocation, Func: wire.FuncPing, Client: 1, Seq: 9}); err != nil {
		t.Fatal(err)
	}
	m, err := c.Receive(time.Now().Add(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != wire.Version || m.Seq != 9 || m.Func != wire.FuncPing {
		t.Errorf("first answer to version-99 calls = %+v, want the ping's (seq 9) in version %d", m, wire.Version)
	}
}

// TestSerialPort serves through go.bug.st/serial on the slave side of a
// pty, the way tepd serves a real UART, and calls from the master side.
func TestSerialPort(t *testing.T) {
	p, err := NewPTY(filepath.Join(t.TempDir(), "ttyS5"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	s, err := OpenSerial(p.Path, 115200)
	if err != nil {
		t.Fatal(err)
	}
	conn := NewConn(s, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, conn, nil) }()
	c := NewClient(p.Master, NewLock(nil), 1, 5*time.Second, Config{})
	for _, n := range []int{10, 100 << 10} {
		if err := echoOnce(c, bytes.Repeat([]byte{0x7e}, n)); err != nil {
			t.Fatalf("echo of %d bytes through the serial port: %v", n, err)
		}
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Serve = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve on a serial port did not stop")
	}
	s.Close()
}

// TestLargeCallAfterExpiredDeadline: a call's expired read deadline must
// not limit the next call's write of a message larger than the tty holds.
func TestLargeCallAfterExpiredDeadline(t *testing.T) {
	path, _ := startServer(t, Config{}, nil)
	c := dialClient(t, path)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	if err := c.Call(ctx, wire.FuncPing, nil, nil); err != nil {
		t.Fatal(err)
	}
	cancel()
	time.Sleep(60 * time.Millisecond)
	if err := echoOnce(c, make([]byte, 1<<20)); err != nil {
		t.Fatalf("1 MiB call after an expired deadline: %v", err)
	}
}

// TestSpinningRead: a tty that spins before sleeping still delivers bytes
// that come during the spin and after it, and still honours its deadline.
func TestSpinningRead(t *testing.T) {
	p, c := ptyAndTTY(t)
	c.SetSpin(5 * time.Millisecond)
	buf := make([]byte, 16)
	for _, delay := range []time.Duration{0, time.Millisecond, 20 * time.Millisecond} {
		go func() {
			time.Sleep(delay)
			p.Master.Write([]byte("reply"))
		}()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.Read(buf); err != nil || string(buf[:n]) != "reply" {
			t.Errorf("reply after %v: Read = %q, %v", delay, buf[:n], err)
		}
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	if _, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Read with nothing to read = %v, want the deadline", err)
	}
}

// TestLockWakeFile: waiters on a port sleep on a private wake file, whose
// waiter counts outlive no release; where that file cannot be had (another user's, or readable by others), the
// lock still works, by polling.
func TestLockWakeFile(t *testing.T) {
	path, _ := startServer(t, Config{}, nil)
	open := func() *TTY {
		f, err := OpenTTY(path, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	handOver := func(l1, l2 *Lock) {
		t.Helper()
		if err := l1.Acquire(time.Time{}); err != nil {
			t.Fatal(err)
		}
		got := make(chan error, 1)
		go func() { got <- l2.Acquire(time.Now().Add(5 * time.Second)) }()
		time.Sleep(5 * time.Millisecond)
		l1.Release()
		if err := <-got; err != nil {
			t.Fatalf("waiter after release: %v", err)
		}
		l2.Release()
	}

	// Each part has a wake directory of its own, so that counts left in
	// /dev/shm by earlier runs on the same pty device do not count here.
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	useWakeDir := func(dir string) {
		old := wakeDir
		wakeDir = dir
		wakeMu.Lock()
		delete(wakeAreas, st.Rdev)
		wakeMu.Unlock()
		t.Cleanup(func() {
			wakeDir = old
			wakeMu.Lock()
			delete(wakeAreas, st.Rdev)
			wakeMu.Unlock()
		})
	}
	useWakeDir(t.TempDir())

	f1, f2 := open(), open()
	l1, l2 := NewLock(f1), NewLock(f2)
	if l1.wake == nil || l1.wake != l2.wake {
		t.Fatalf("locks on one tty have wake areas %p and %p, want one shared", l1.wake, l2.wake)
	}
	file := filepath.Join(wakeDir, fmt.Sprintf("tep-lock-%d-%d-%d", os.Getuid(), unix.Major(st.Rdev), unix.Minor(st.Rdev)))
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("wake file %s: %v, %v; want mode 0600", file, fi, err)
	}
	handOver(l1, l2)
	waiters := func() [2]uint32 {
		return [2]uint32{l1.wake.waiters(queueByte).Load(), l1.wake.waiters(portByte).Load()}
	}
	if w := waiters(); w != [2]uint32{} {
		t.Errorf("after a hand-over, waiter counts %v, want none", w)
	}
	// A waiter killed in its sleep leaves its count; the next release
	// takes it off, so that later ones do not wake nobody.
	l1.wake.waiters(queueByte).Add(1)
	l1.wake.waiters(portByte).Add(1)
	if err := l1.Acquire(time.Time{}); err != nil {
		t.Fatal(err)
	}
	l1.Release()
	if w := waiters(); w != [2]uint32{} {
		t.Errorf("a dead waiter's count outlived a release: waiter counts %v, want none", w)
	}

	// A wake file others can read is not used.
	dir := t.TempDir()
	useWakeDir(dir)
	os.WriteFile(filepath.Join(dir, filepath.Base(file)), make([]byte, 64), 0o644)
	l3, l4 := NewLock(open()), NewLock(open())
	if l3.wake != nil {
		t.Errorf("a wake file readable by others was mapped")
	}
	handOver(l3, l4)
}

// TestRawWaitLetsOthersRun: a Read waiting for a reply with raw waits
// keeps its P, yet with a single P the goroutine that sends the
// reply still gets to run: every wait is a bounded slice, and the
// scheduler preempts the waiter between slices.
func TestRawWaitLetsOthersRun(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	p, c := ptyAndTTY(t)
	c.SetRawWaits(true)
	go func() {
		time.Sleep(50 * time.Millisecond)
		p.Master.Write([]byte("reply"))
	}()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 16)
	if n, err := c.Read(buf); err != nil || string(buf[:n]) != "reply" {
		t.Fatalf("Read = %q, %v; want the reply another goroutine sends", buf[:n], err)
	}
}

// TestSpinFile: a server's pty read that spins still gets what comes at
// once, what comes after it has given up and parked, and its deadline;
// and it counts its port at work from a request to the next read or to
// Close. (Its writes, large ones too, are the server's in every test that
// uses startServer.)
func TestSpinFile(t *testing.T) {
	p, c := ptyAndTTY(t)
	s, err := NewSpinFile(p.Master, 2*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	for _, delay := range []time.Duration{0, 500 * time.Microsecond, 30 * time.Millisecond, 0} {
		go func() {
			time.Sleep(delay)
			c.Write([]byte("request"))
		}()
		s.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := s.Read(buf); err != nil || string(buf[:n]) != "request" {
			t.Errorf("request after %v: Read = %q, %v", delay, buf[:n], err)
		}
		if got := working.Load(); got != 1 {
			t.Errorf("after a request: %d ports at work, want this one", got)
		}
	}
	s.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := s.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Read with nothing to read = %v, want the deadline", err)
	}
	if got := len(spinTokens()); got != 0 {
		t.Errorf("%d spin tokens still taken after the reads", got)
	}
	if got := working.Load(); got != 0 {
		t.Errorf("after a failed read: %d ports at work, want none", got)
	}
	// A port closed while it answers a request is at work no more.
	c.Write([]byte("request"))
	s.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := s.Read(buf); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if got := working.Load(); got != 0 {
		t.Errorf("after Close: %d ports at work, want none", got)
	}
	if _, err := s.Write([]byte("reply")); err == nil {
		t.Error("Write on a closed SpinFile succeeded")
	}
}

// ptyAndTTY makes a pty pair and opens its slave as a client's tty; both
// close when the test ends.
func ptyAndTTY(t *testing.T) (*PTY, *TTY) {
	t.Helper()
	p, err := NewPTY(filepath.Join(t.TempDir(), "ttyS4"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	c, err := OpenTTY(p.Path, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return p, c
}
