package server

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"tep.dev/tep/channel"
	"tep.dev/tep/link"
	"tep.dev/tep/p11"
	"tep.dev/tep/wire"
)

// rawClient speaks to the fixture's server frame by frame, as a process on
// the guest's tty can: it chooses ids, seals what it likes and resends
// captured frames.
type rawClient struct {
	t    *testing.T
	tty  *link.TTY
	conn *link.Conn
}

func (f *fixture) raw(t *testing.T) *rawClient {
	t.Helper()
	tty, err := link.OpenTTY(f.port, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tty.Close() })
	return &rawClient{t: t, tty: tty, conn: link.NewConn(tty, link.Config{})}
}

// exchange sends m and returns the reply that echoes its id and seq, or
// nil if none came within the wait.
func (r *rawClient) exchange(m *wire.Message, wait time.Duration) *wire.Message {
	r.t.Helper()
	if err := r.conn.Send(m); err != nil {
		r.t.Fatal(err)
	}
	deadline := time.Now().Add(wait)
	for {
		got, err := r.conn.Receive(deadline)
		if errors.Is(err, link.ErrTimeout) {
			return nil
		}
		if err != nil {
			r.t.Fatal(err)
		}
		if got.Type == wire.Reply && got.Client == m.Client && got.Seq == m.Seq {
			c := *got
			c.Body = bytes.Clone(got.Body)
			return &c
		}
	}
}

// handshake runs a handshake for id and returns the keys, or nil if the
// server gave no answer.
func (r *rawClient) handshake(id uint64) *channel.Keys {
	r.t.Helper()
	h, msg1, err := channel.StartClient(id, nil, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	m := wire.Message{Version: wire.Version, Type: wire.Invocation, Func: wire.FuncHandshake, Client: id, Seq: 1, Body: channel.AppendBin(nil, msg1)}
	reply := r.exchange(&m, time.Second)
	if reply == nil {
		return nil
	}
	msg2, _ := channel.Bin(reply.Body)
	keys, _, _, err := h.Finish(msg2)
	if err != nil {
		r.t.Fatal(err)
	}
	return keys
}

// sealed builds a sealed call of fn with args under keys, nonce n.
func sealed(t *testing.T, keys *channel.Keys, id, n uint64, fn uint16, args any) *wire.Message {
	t.Helper()
	body, err := p11.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	m := &wire.Message{Version: wire.Version, Type: wire.Invocation, Func: wire.FuncSealed, Client: id, Seq: uint32(n)}
	m.Body = keys.Seal(nil, m.AppendHeader(nil), n, fn, body)
	return m
}

// TestChannelRefusals: a handshake for a live id, a call in clear, a
// forged sealed call and a replayed one are all dropped without an answer
// and counted; a sealed call for an unknown id gets FuncNoChannel.
func TestChannelRefusals(t *testing.T) {
	f := newFixture(t, "sim")
	victim := f.dial(t)
	s, err := victim.OpenSession(1, p11.CKF_SERIAL_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	r := f.raw(t)
	if keys := r.handshake(victim.ID()); keys != nil {
		t.Fatal("a handshake for a live client's id was answered")
	}
	plain := wire.Message{Version: wire.Version, Type: wire.Invocation, Func: p11.FnCloseAllSessions, Client: victim.ID(), Seq: 99, Body: mustMarshal(t, &p11.SlotReq{Slot: 1})}
	if reply := r.exchange(&plain, 300*time.Millisecond); reply != nil {
		t.Fatalf("a call in clear was answered: %+v", reply)
	}
	// Keys of the attacker's own channel do not open under the victim's.
	own := r.handshake(0x5eed)
	if own == nil {
		t.Fatal("a handshake for a fresh id was not answered")
	}
	forgedCall := sealed(t, own, victim.ID(), 1<<20, p11.FnCloseAllSessions, &p11.SlotReq{Slot: 1})
	if reply := r.exchange(forgedCall, 300*time.Millisecond); reply != nil {
		t.Fatalf("a forged sealed call was answered: %+v", reply)
	}
	unknownCall := sealed(t, own, 0xdead, 1, p11.FnGetSlotList, &p11.SlotListReq{})
	reply := r.exchange(unknownCall, time.Second)
	if reply == nil || reply.Func != wire.FuncNoChannel {
		t.Fatalf("a sealed call for an unknown id: reply %+v, want FuncNoChannel", reply)
	}
	// A captured sealed call has one effect: its replay is dropped.
	open := sealed(t, own, 0x5eed, 2, p11.FnOpenSession, &p11.OpenSessionReq{Slot: 1, Flags: p11.CKF_SERIAL_SESSION})
	frame := *open
	frame.Body = bytes.Clone(open.Body)
	if reply := r.exchange(open, time.Second); reply == nil || reply.Func != wire.FuncSealed {
		t.Fatalf("a sealed call on the attacker's own channel: reply %+v", reply)
	}
	sessions := f.sessions()
	if reply := r.exchange(&frame, 300*time.Millisecond); reply != nil {
		t.Fatalf("a replayed call was answered: %+v", reply)
	}
	if got := f.sessions(); got != sessions {
		t.Errorf("sessions after a replayed C_OpenSession = %d, want %d", got, sessions)
	}
	want := ChannelStats{Handshakes: 2, Refused: 1, Unknown: 1, Replayed: 1, Forged: 1, Plain: 1}
	if got := f.srv.ChannelStats(); got != want {
		t.Errorf("ChannelStats() = %+v, want %+v", got, want)
	}
	// The victim never noticed.
	if info, err := victim.SessionInfo(s); err != nil || info.Slot != 1 {
		t.Errorf("victim's SessionInfo after the attempts = %+v, %v", info, err)
	}
}

// TestChannelClientLimit: once MaxClients channels exist, a handshake is
// refused until a lease runs out.
func TestChannelClientLimit(t *testing.T) {
	f := newFixture(t, "sim", func(c *Config) { c.MaxClients = 2 })
	r := f.raw(t)
	for id := uint64(1); id <= 2; id++ {
		if r.handshake(id) == nil {
			t.Fatalf("handshake %d refused below the limit", id)
		}
	}
	if r.handshake(3) != nil {
		t.Fatal("handshake beyond MaxClients answered")
	}
	f.now.Advance(2 * time.Hour) // past the fixture's lease
	if r.handshake(3) == nil {
		t.Fatal("handshake refused after the other clients' leases ran out")
	}
}

func (f *fixture) sessions() int {
	f.srv.mu.Lock()
	defer f.srv.mu.Unlock()
	return len(f.srv.sessions)
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := p11.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestClientsPerPort: a process that fills its port's share of the client
// table and keeps its clients alive (a handshake needs no PIN, and it holds
// the keys of every client it made) refuses no guest on another port.
func TestClientsPerPort(t *testing.T) {
	f := newFixture(t, "sim", func(c *Config) { c.Limits.ClientsPerPort = 3 })
	r := f.raw(t)
	var keys []*channel.Keys
	for id := uint64(1); id <= 3; id++ {
		k := r.handshake(id)
		if k == nil {
			t.Fatalf("handshake %d refused within the port's share", id)
		}
		keys = append(keys, k)
	}
	// Each of the flood's clients makes a call, so none is reaped as
	// silent, and their leases stay fresh.
	for i, k := range keys {
		id := uint64(i + 1)
		if reply := r.exchange(sealed(t, k, id, 2, p11.FnGetSlotList, &p11.SlotListReq{}), time.Second); reply == nil {
			t.Fatalf("client %d's call unanswered", id)
		}
	}
	if r.handshake(4) != nil {
		t.Fatal("a handshake beyond the port's share was answered")
	}
	if got := f.srv.ChannelStats().ClientLimit; got != 1 {
		t.Errorf("ChannelStats().ClientLimit = %d, want 1", got)
	}
	// Another port: its own share.
	p, err := link.NewPTY(filepath.Join(t.TempDir(), "ttyS5"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.srv.ServeStream(ctx, p.Master, p.Path); close(done) }()
	t.Cleanup(func() { cancel(); <-done; p.Close() })
	other := &fixture{srv: f.srv, port: p.Path, now: f.now}
	if other.raw(t).handshake(5) == nil {
		t.Fatal("a handshake on another port was refused while the first port's share was full")
	}
	// A client that goes away gives its port's room back.
	f.srv.mu.Lock()
	f.srv.dropClient(f.srv.clients[1])
	f.srv.mu.Unlock()
	if r.handshake(6) == nil {
		t.Fatal("a handshake was refused after a client of the full port went away")
	}
}
