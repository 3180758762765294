package link

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"tep.dev/tep/channel"
	"tep.dev/tep/wire"
)

// Function ids the sealing server of these tests treats specially.
const (
	fnForgedFirst = 7 // a forged reply precedes the real one
	fnNoChannel   = 8 // answered with FuncNoChannel
	// An answer in clear that the server holds no channel, or in another
	// version, precedes the real one, as a writer on the line would send.
	fnNoChannelFirst  = 9
	fnOldVersionFirst = 10
)

// startSealingServer serves a pty with a server that runs handshakes with
// key and echoes sealed calls. It returns the pty's path.
func startSealingServer(t testing.TB, key *channel.StaticKey) string {
	t.Helper()
	p, err := NewPTY(filepath.Join(t.TempDir(), "ttyS4"))
	if err != nil {
		t.Fatal(err)
	}
	conn := NewConn(p.Master, Config{})
	var keys *channel.Keys
	// forge sends, ahead of the real reply, one that looks right but was
	// not sealed under the client's keys.
	forge := func(reply *wire.Message, body []byte) {
		f := *reply
		f.Body = body
		if err := conn.Send(&f); err != nil {
			t.Error(err)
		}
	}
	h := func(req, reply *wire.Message) bool {
		switch req.Func {
		case wire.FuncHandshake:
			msg1, _ := channel.Bin(req.Body)
			msg2, k, err := channel.Accept(key, req.Client, msg1, nil, nil)
			if err != nil {
				return false
			}
			forge(reply, channel.AppendBin(nil, bytes.Repeat([]byte{1}, len(msg2))))
			keys, reply.Body = k, channel.AppendBin(nil, msg2)
			return true
		case wire.FuncSealed:
			n, fn, body, err := keys.OpenNext(req.AppendHeader(nil), req.Seq, req.Body)
			if err != nil {
				return false
			}
			switch fn {
			case fnForgedFirst:
				forge(reply, channel.AppendBin(nil, make([]byte, len(body)+18)))
			case fnNoChannel:
				reply.Func = wire.FuncNoChannel
				return true
			case fnNoChannelFirst, fnOldVersionFirst:
				f := *reply
				if fn == fnNoChannelFirst {
					f.Func = wire.FuncNoChannel
				} else {
					f.Version = wire.Version - 1
				}
				if err := conn.Send(&f); err != nil {
					t.Error(err)
				}
			}
			reply.Body = keys.Seal(nil, reply.AppendHeader(nil), n, fn, body)
			return true
		}
		return false
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, conn, h) }()
	t.Cleanup(func() {
		cancel()
		<-done
		p.Close()
	})
	return p.Path
}

func TestSealedCalls(t *testing.T) {
	key, err := channel.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := dialClient(t, startSealingServer(t, key))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	pub := key.Public()
	got, err := c.Handshake(ctx, &pub)
	if err != nil || got != pub {
		t.Fatalf("Handshake = %s, %v; want %s", got, err, pub)
	}
	if c.Stale() != 1 {
		t.Errorf("Stale() after a forged handshake answer = %d, want 1", c.Stale())
	}
	for i, fn := range []uint16{3, fnForgedFirst, 4, fnForgedFirst, fnNoChannelFirst, fnOldVersionFirst} {
		want := packBytes(bytes.Repeat([]byte{byte(i)}, 100*i))
		var reply []byte
		if err := c.Call(ctx, fn, want, func(b []byte) error { reply = bytes.Clone(b); return nil }); err != nil {
			t.Fatalf("Call(%d): %v", fn, err)
		}
		if !bytes.Equal(reply, want) {
			t.Fatalf("Call(%d) = % x, want % x", fn, reply, want)
		}
	}
	if c.Stale() != 5 {
		t.Errorf("Stale() after four forged replies = %d, want 5", c.Stale())
	}
	if err := c.Call(ctx, fnNoChannel, nil, nil); !errors.Is(err, ErrNoChannel) {
		t.Errorf("Call answered with FuncNoChannel = %v, want ErrNoChannel", err)
	}
	if err := c.Call(ctx, 3, nil, nil); err != nil {
		t.Errorf("Call after FuncNoChannel: %v", err)
	}
}

func TestHandshakePinnedMismatch(t *testing.T) {
	key, _ := channel.GenerateKey(nil)
	other, _ := channel.GenerateKey(nil)
	c := dialClient(t, startSealingServer(t, key))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pinned := other.Public()
	got, err := c.Handshake(ctx, &pinned)
	if !errors.Is(err, channel.ErrServerKeyMismatch) || got != key.Public() {
		t.Fatalf("Handshake with another pinned key = %s, %v; want %s, ErrServerKeyMismatch", got, err, key.Public())
	}
}
