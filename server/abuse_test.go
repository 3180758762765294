package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"tep.dev/tep/channel"
	"tep.dev/tep/link"
	"tep.dev/tep/p11"
	p11client "tep.dev/tep/provider/client"
	"tep.dev/tep/provider/client/clienttest"
	"tep.dev/tep/server/store"
	"tep.dev/tep/tpm"
	"tep.dev/tep/wire"
)

// The abuse tests run a server in this process on the simulator, serving
// a pty and a unix socket, with its Limits scaled down so that each test
// takes seconds; the abuse is scaled so that, without the limits, the
// server's heap would grow well past the bound each test asserts (each
// test says by how much). Beside the abuse a signer signs in a loop: its
// calls must keep completing, and its worst wait is logged, never
// asserted.

// abuseRig is a server with limits on a fresh token.
type abuseRig struct {
	t    *testing.T
	srv  *Server
	port string // pty
	sock string // unix socket
	log  *logBuffer
}

func newAbuseRig(t *testing.T, lim Limits, lease time.Duration) *abuseRig {
	t.Helper()
	dir := t.TempDir()
	tp, err := tpm.Open("sim", dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tp.Close() })
	st, err := store.Open(filepath.Join(dir, "tep.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r := &abuseRig{t: t, log: new(logBuffer), sock: filepath.Join(dir, "tepd.sock")}
	r.srv, err = New(tp, st, Config{Lease: lease, Log: slog.New(slog.NewTextHandler(r.log, nil)), Limits: lim})
	if err != nil {
		t.Fatal(err)
	}
	slot, err := r.srv.CreateToken("TEP Token", []byte(soPIN))
	if err == nil {
		err = r.srv.SetUserPIN(slot, []byte(soPIN), []byte(userPIN))
	}
	if err != nil {
		t.Fatal(err)
	}
	p, err := link.NewPTY(filepath.Join(dir, "ttyS4"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := link.ListenUnix(r.sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r.srv.ServeStream(ctx, p.Master, p.Path) }()
	go func() { defer wg.Done(); r.srv.ServeUnix(ctx, l.UnixListener) }()
	r.port = p.Path
	t.Cleanup(func() { cancel(); wg.Wait(); l.Close(); p.Close(); r.srv.Close() })
	return r
}

// dial connects a client to port, closed at the end of the test.
func (r *abuseRig) dial(port string) *p11client.Client {
	r.t.Helper()
	c, err := p11client.Dial(p11client.Config{Port: port, StartTimeout: 10 * time.Second})
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { c.Close() })
	return c
}

// session opens a read/write session on slot 1, logged in as the user
// when login is set.
func (r *abuseRig) session(c *p11client.Client, login bool) uint64 {
	r.t.Helper()
	s, err := c.OpenSession(1, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err != nil {
		r.t.Fatal(err)
	}
	if login {
		if err := c.Login(s, p11.CKU_USER, []byte(userPIN)); err != nil {
			r.t.Fatal(err)
		}
	}
	return s
}

// signer signs in a loop on its own client until stopped.
// startSigner starts a signer on the rig's pty with a fresh P-256 key.
func (r *abuseRig) startSigner() *clienttest.Signer {
	r.t.Helper()
	c := r.dial(r.port)
	return clienttest.StartSigner(r.t, c, r.session(c, true))
}

// heapInUse is the heap in use after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// checkHeap fails the test when the heap grew past bound since base.
func checkHeap(t *testing.T, base, bound uint64) {
	t.Helper()
	h := heapInUse()
	t.Logf("heap in use: %d MiB (%d MiB at the start, bound %d MiB more)", h>>20, base>>20, bound>>20)
	if h > base+bound {
		t.Errorf("heap in use %d MiB, more than %d MiB over the %d MiB at the start", h>>20, bound>>20, base>>20)
	}
}

// dataObject is the template of a data object with value v.
func dataObject(token bool, v []byte) []p11.Attribute {
	return []p11.Attribute{attr(p11.CKA_CLASS, p11.Ulong(p11.CKO_DATA)), attr(p11.CKA_TOKEN, p11.Bool(token)),
		attr(p11.CKA_PRIVATE, p11.Bool(false)), attr(p11.CKA_VALUE, v)}
}

// TestAbuseObjects: clients create 1 MiB objects, session and token ones,
// without logging in, until the server says CKR_DEVICE_MEMORY. Without
// limits 3 clients × 40 MiB of session objects and 40 MiB of token objects
// stay in the heap (160 MiB); with Bytes and TokenBytes of 16 MiB the
// heap stays within 64 MiB of its start.
func TestAbuseObjects(t *testing.T) {
	r := newAbuseRig(t, Limits{BytesPerClient: 8 << 20, Bytes: 16 << 20, TokenBytes: 16 << 20}, time.Hour)
	base := heapInUse()
	sg := r.startSigner()
	value := make([]byte, 1<<20)
	var wg sync.WaitGroup
	full := make([]int, 4)
	for i := range full {
		c := r.dial("unix:" + r.sock)
		s := r.session(c, false)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 40 {
				_, err := c.CreateObject(s, dataObject(i == 0, value))
				if isRV(err, p11.CKR_DEVICE_MEMORY) {
					full[i]++
				} else if err != nil {
					t.Errorf("CreateObject = %v, want CKR_OK or CKR_DEVICE_MEMORY", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for i, n := range full {
		if n == 0 {
			t.Errorf("client %d created 40 MiB of objects without CKR_DEVICE_MEMORY", i)
		}
	}
	checkHeap(t, base, 64<<20)
	sg.Finish(t)
	st := r.srv.ChannelStats()
	if st.ByteLimit == 0 {
		t.Errorf("ChannelStats().ByteLimit = 0 after the limit was hit")
	}
	// Every refusal is counted; one summary line tells of them.
	if n := strings.Count(r.log.String(), "limits hit"); n != 1 {
		t.Errorf("%d summary lines for %d refusals, want 1:\n%s", n, st.ByteLimit, r.log)
	}
}

// TestAbuseSearches: a client opens a search that finds 2,000 objects in
// each of 1,000 sessions and never ends it. Without a cursor every search
// holds a copy of its handles (16 MB of them, more with the slices'
// growth); with one, a search holds its template, and the heap stays
// within 8 MiB of what the objects themselves take.
func TestAbuseSearches(t *testing.T) {
	r := newAbuseRig(t, Limits{BytesPerClient: 4 << 20}, time.Hour)
	sg := r.startSigner()
	c := r.dial("unix:" + r.sock)
	s := r.session(c, false)
	tmpl := []p11.Attribute{attr(p11.CKA_CLASS, p11.Ulong(p11.CKO_DATA)), attr(p11.CKA_LABEL, []byte("found"))}
	for range 2000 {
		if _, err := c.CreateObject(s, append(tmpl, attr(p11.CKA_TOKEN, p11.Bool(false)))); err != nil {
			t.Fatal(err)
		}
	}
	base := heapInUse()
	for range 1000 {
		if err := c.FindObjectsInit(s, tmpl); err != nil {
			t.Fatal(err)
		}
		if s, _ = c.OpenSession(1, p11.CKF_SERIAL_SESSION); s == 0 {
			t.Fatal("OpenSession failed")
		}
	}
	checkHeap(t, base, 8<<20)
	// A search still finds what it should, in parts.
	if err := c.FindObjectsInit(s, tmpl); err != nil {
		t.Fatal(err)
	}
	total := 0
	for {
		got, err := c.FindObjects(s, 300)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			break
		}
		total += len(got)
	}
	if total != 2000 {
		t.Errorf("a search in parts found %d objects, want 2000", total)
	}
	c.FindObjectsFinal(s)
	// A template past the client's bytes is refused, not held.
	big := append(tmpl, attr(p11.CKA_VALUE, make([]byte, 5<<20)))
	if err := c.FindObjectsInit(s, big); !isRV(err, p11.CKR_DEVICE_MEMORY) {
		t.Errorf("FindObjectsInit with a 5 MiB template = %v, want CKR_DEVICE_MEMORY", err)
	}
	sg.Finish(t)
}

// TestAbuseSessions: a client opens sessions until CKR_SESSION_COUNT, then
// closes them all at once. Without limits its 5,000 sessions would all
// open; closing them touches only its own sessions (they are indexed per
// client), while another client's session stays.
func TestAbuseSessions(t *testing.T) {
	r := newAbuseRig(t, Limits{SessionsPerClient: 2000, Sessions: 3000}, time.Hour)
	sg := r.startSigner()
	c := r.dial("unix:" + r.sock)
	opened := 0
	var err error
	for range 5000 {
		if _, err = c.OpenSession(1, p11.CKF_SERIAL_SESSION); err != nil {
			break
		}
		opened++
	}
	if !isRV(err, p11.CKR_SESSION_COUNT) || opened != 2000 {
		t.Errorf("opened %d sessions, then %v; want 2000, then CKR_SESSION_COUNT", opened, err)
	}
	// Another client hits the global limit.
	c2 := r.dial("unix:" + r.sock)
	opened2 := 0
	for range 2000 {
		if _, err = c2.OpenSession(1, p11.CKF_SERIAL_SESSION); err != nil {
			break
		}
		opened2++
	}
	// 3000 in all, less the attacker's 2000 and the signer's one.
	if !isRV(err, p11.CKR_SESSION_COUNT) || opened2 != 999 {
		t.Errorf("the second client opened %d sessions, then %v; want 999, then CKR_SESSION_COUNT", opened2, err)
	}
	if err := c.CloseAllSessions(1); err != nil {
		t.Fatal(err)
	}
	if err := c2.CloseAllSessions(1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.OpenSession(1, p11.CKF_SERIAL_SESSION); err != nil {
		t.Errorf("OpenSession after C_CloseAllSessions = %v", err)
	}
	sg.Finish(t)
	if st := r.srv.ChannelStats(); st.SessionLimit != 2 {
		t.Errorf("ChannelStats().SessionLimit = %d, want 2", st.SessionLimit)
	}
}

// TestAbuseRandom: a client draws 16 MiB of randomness, in the 1 MiB calls
// the provider makes, while the signer signs; the signer's calls go
// through in between (the test logs how many and its worst wait). One call
// past MaxRandom, which could hold the TPM for a long time, is refused.
// That the TPM's lock is taken per TPM2_GetRandom is checked by the tpm
// package's TestGetRandomLetsOthersIn.
func TestAbuseRandom(t *testing.T) {
	r := newAbuseRig(t, Limits{}, time.Hour)
	sg := r.startSigner()
	c := r.dial("unix:" + r.sock)
	s := r.session(c, false)
	before := sg.Count()
	if err := c.GenerateRandom(s, make([]byte, 16<<20)); err != nil {
		t.Fatal(err)
	}
	during := sg.Count() - before
	t.Logf("signatures during 16 MiB of C_GenerateRandom: %d", during)
	if during == 0 {
		t.Errorf("no signature went through during 16 MiB of C_GenerateRandom")
	}
	r.srv.mu.Lock()
	cl := r.srv.clients[c.ID()]
	r.srv.mu.Unlock()
	if _, err := r.srv.generateRandom(cl, &p11.GenerateRandomReq{Session: s, Len: MaxRandom + 1}); !isRV(err, p11.CKR_ARGUMENTS_BAD) {
		t.Errorf("C_GenerateRandom of MaxRandom+1 bytes in one call = %v, want CKR_ARGUMENTS_BAD", err)
	}
	sg.Finish(t)
}

// TestAbusePartialMessages: 8 unix connections each send the first frame
// of a 31 MiB message and stop, and so does a pty with a 32 MiB one.
// Without a budget each first frame allocates its whole message (280 MiB
// in all), held for as long as the line stays quiet; with an assembly
// budget of 32 MiB one message fits, the others wait unread, and every
// partial message is given up after the quiet gap (1 s), its budget and
// buffer returned, so the test takes about 9 s.
func TestAbusePartialMessages(t *testing.T) {
	r := newAbuseRig(t, Limits{Assembly: 32 << 20}, time.Hour)
	tty, err := link.NewPTY(filepath.Join(t.TempDir(), "ttyS5"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { r.srv.ServeStream(ctx, tty.Master, tty.Path); close(served) }()
	t.Cleanup(func() { cancel(); <-served; tty.Close() })
	base := heapInUse()
	sg := r.startSigner()
	first := func(total int) []byte { return wire.AppendFrame(nil, make([]byte, wire.MaxBody), total, 0) }
	for range 8 {
		conn, err := net.Dial("unix", r.sock)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		if _, err := conn.Write(first(31 << 20)); err != nil {
			t.Fatal(err)
		}
	}
	st, _, err := link.Dial(tty.Path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Write(first(32 << 20)); err != nil {
		t.Fatal(err)
	}
	// A client on the socket still gets through, and so do its calls.
	c := r.dial("unix:" + r.sock)
	if _, err := c.OpenSession(1, p11.CKF_SERIAL_SESSION); err != nil {
		t.Errorf("OpenSession while partial messages are held: %v", err)
	}
	checkHeap(t, base, 64<<20)
	// Every partial message is given up after the quiet gap: the budget
	// comes back whole.
	for i := 0; r.srv.assembly.Used() != 0; i++ {
		if i == 3000 {
			t.Fatalf("partial messages still hold %d bytes of the budget", r.srv.assembly.Used())
		}
		time.Sleep(10 * time.Millisecond)
	}
	sg.Finish(t)
}

// TestAbuseHandshakes: a process on the unix socket floods it with 2,000
// handshakes and never calls. The socket's handshake rate refuses most of
// them before their X25519 work; the clients it let in are dropped once
// they stay silent for Limits.Silent after their handshake, long before
// the lease; and a client on the pty starts as usual meanwhile. Without
// the rate every handshake would make a client, 2,000 of them kept for
// the whole lease (an hour here).
func TestAbuseHandshakes(t *testing.T) {
	r := newAbuseRig(t, Limits{HandshakeRate: 50, HandshakeBurst: 20, Silent: 2 * time.Second}, time.Hour)
	sg := r.startSigner()
	conn, err := net.Dial("unix", r.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	go func() { // read and forget the replies
		lc := link.NewConn(conn.(*net.UnixConn), link.Config{})
		for {
			if _, err := lc.Receive(time.Time{}); err != nil {
				return
			}
		}
	}()
	out := link.NewConn(conn.(*net.UnixConn), link.Config{})
	const flood = 2000
	for i := range flood {
		id := uint64(i)<<1 | 1
		_, msg1, err := channel.StartClient(id, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		m := wire.Message{Version: wire.Version, Type: wire.Invocation, Func: wire.FuncHandshake, Client: id, Seq: 1, Body: channel.AppendBin(nil, msg1)}
		if err := out.Send(&m); err != nil {
			t.Fatal(err)
		}
	}
	// Another client starts on the pty while the flood's clients are there.
	c := r.dial(r.port)
	if _, err := c.OpenSession(1, p11.CKF_SERIAL_SESSION); err != nil {
		t.Errorf("OpenSession of a client started after the flood: %v", err)
	}
	// The clients are 2 (the signer, and c) once the flood's silent ones go.
	for i := 0; ; i++ {
		st := r.srv.ChannelStats()
		if st.Handshakes+st.Throttled+st.Refused >= flood+2 && r.srv.Clients() == 2 {
			t.Logf("handshakes: %d accepted, %d throttled; %d silent clients reaped", st.Handshakes, st.Throttled, st.ReapedSilent)
			if st.Throttled == 0 || st.ReapedSilent == 0 {
				t.Errorf("ChannelStats() = %+v, want throttled handshakes and silent clients reaped", st)
			}
			break
		}
		if i == 3000 {
			t.Fatalf("after the flood: %d clients, stats %+v", r.srv.Clients(), st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	sg.Finish(t)
}

// TestAbuseConnections: with Limits.Connections at 1, a second connection
// to the unix socket is not served while the first is open (its ping gets
// no answer), and is served once the first closes.
func TestAbuseConnections(t *testing.T) {
	r := newAbuseRig(t, Limits{Connections: 1}, time.Hour)
	first, err := net.Dial("unix", r.sock)
	if err != nil {
		t.Fatal(err)
	}
	ping := func(c net.Conn) error {
		lc := link.NewConn(c.(*net.UnixConn), link.Config{})
		if err := lc.Send(&wire.Message{Version: wire.Version, Type: wire.Invocation, Func: wire.FuncPing, Client: 3, Seq: 1}); err != nil {
			return err
		}
		_, err := lc.Receive(time.Now().Add(300 * time.Millisecond))
		return err
	}
	if err := ping(first); err != nil {
		t.Fatalf("the first connection's ping: %v", err)
	}
	second, err := net.Dial("unix", r.sock) // queued by the kernel
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if err := ping(second); !errors.Is(err, link.ErrTimeout) {
		t.Errorf("a connection past the limit answered its ping: %v", err)
	}
	first.Close()
	lc := link.NewConn(second.(*net.UnixConn), link.Config{})
	if _, err := lc.Receive(time.Now().Add(30 * time.Second)); err != nil {
		t.Errorf("the second connection once the first closed: %v", err)
	}
}

// TestAbuseGrowObject: C_SetAttributeValue that would grow a session
// object past its client's bytes answers CKR_DEVICE_MEMORY and leaves it
// as it was; shrinking it returns the room.
func TestAbuseGrowObject(t *testing.T) {
	r := newAbuseRig(t, Limits{BytesPerClient: 2 << 20}, time.Hour)
	c := r.dial("unix:" + r.sock)
	s := r.session(c, false)
	h, err := c.CreateObject(s, dataObject(false, make([]byte, 1<<20)))
	if err != nil {
		t.Fatal(err)
	}
	grow := []p11.Attribute{attr(p11.CKA_VALUE, make([]byte, 3<<20))}
	if err := c.SetAttributeValue(s, h, grow); !isRV(err, p11.CKR_DEVICE_MEMORY) {
		t.Errorf("growing an object past the client's bytes = %v, want CKR_DEVICE_MEMORY", err)
	}
	if n, err := c.ObjectSize(s, h); err != nil || n < 1<<20 || n > 1<<20+1024 {
		t.Errorf("ObjectSize after a refused change = %d, %v; want about 1 MiB", n, err)
	}
	if err := c.SetAttributeValue(s, h, []p11.Attribute{attr(p11.CKA_VALUE, []byte("small"))}); err != nil {
		t.Fatal(err)
	}
	// The room the object gave back takes another 1.5 MiB object.
	if _, err := c.CreateObject(s, dataObject(false, make([]byte, 3<<19))); err != nil {
		t.Errorf("CreateObject after the object shrank: %v", err)
	}
}
