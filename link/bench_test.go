package link

import (
	"context"
	"testing"
	"time"

	"tep.dev/tep/channel"
	"tep.dev/tep/wire"
)

func BenchmarkLock(b *testing.B) {
	p, err := NewPTY(b.TempDir() + "/tty")
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	f, err := OpenTTY(p.Path, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	l := NewLock(f)
	for b.Loop() {
		if err := l.Acquire(time.Time{}); err != nil {
			b.Fatal(err)
		}
		l.Release()
	}
}

func BenchmarkCall32(b *testing.B) {
	p, err := NewPTY(b.TempDir() + "/tty")
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go Serve(ctx, NewConn(p.Master, Config{}), nil)
	s, lock, err := Dial(p.Path, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	c := NewClient(s, lock, 1, 0, Config{})
	body := packBytes(make([]byte, 32))
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Call(context.Background(), wire.FuncPing, body, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSealedCall32 is BenchmarkCall32 through the secure channel: a
// 32-byte call sealed, opened, answered sealed and opened. The server
// here is a test one that allocates its reply; the client does not.
func BenchmarkSealedCall32(b *testing.B) {
	key, err := channel.GenerateKey(nil)
	if err != nil {
		b.Fatal(err)
	}
	c := dialClient(b, startSealingServer(b, key))
	if _, err := c.Handshake(context.Background(), nil); err != nil {
		b.Fatal(err)
	}
	body := packBytes(make([]byte, 32))
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Call(context.Background(), 3, body, nil); err != nil {
			b.Fatal(err)
		}
	}
}
