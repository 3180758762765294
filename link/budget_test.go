package link

import (
	"bytes"
	"errors"
	"net"
	"testing"
	"time"

	"tep.dev/tep/wire"
)

// framesOf returns the frames of a message carrying n bytes of body.
func framesOf(n int) []byte {
	m := wire.Message{Version: wire.Version, Type: wire.Invocation, Func: 7, Client: 1, Seq: 1, Body: packBytes(bytes.Repeat([]byte{0xA5}, n))}
	return wire.AppendFrames(nil, m.Append(nil))
}

// pipeConn is a Conn reading one end of a pipe; the test writes the other.
func pipeConn(t *testing.T, cfg Config) (*Conn, net.Conn) {
	t.Helper()
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	return NewConn(a, cfg), b
}

// write writes p to w without waiting for the reader.
func write(w net.Conn, p []byte) {
	go w.Write(p)
}

// receive returns the next message's body length, or -1 when none comes
// within a while (nothing more is written, so waiting longer cannot help).
func receive(t *testing.T, c *Conn) int {
	t.Helper()
	m, err := c.Receive(time.Now().Add(300 * time.Millisecond))
	if errors.Is(err, ErrTimeout) {
		return -1
	}
	if err != nil {
		t.Fatal(err)
	}
	return len(m.Body)
}

func TestBudgetRefusesPartialMessages(t *testing.T) {
	b := NewBudget(100 << 10)
	cfg := Config{Budget: b, MessageGap: time.Hour, BudgetWait: 100 * time.Millisecond}
	a, wa := pipeConn(t, cfg)
	c, wc := pipeConn(t, cfg)
	msg := framesOf(80 << 10) // two frames
	write(wa, msg[:wire.MaxFrame])
	if n := receive(t, a); n != -1 {
		t.Fatalf("a partial message was delivered (%d bytes)", n)
	}
	if b.Used() < 80<<10 {
		t.Fatalf("Budget.Used() = %d during a partial 80 KiB message", b.Used())
	}
	write(wc, msg) // a whole message, but no room for it
	if n := receive(t, c); n != -1 {
		t.Errorf("a message past the budget was delivered (%d bytes)", n)
	}
	if st := c.Stats(); st.Refused != 1 {
		t.Errorf("Stats().Refused = %d, want 1", st.Refused)
	}
	write(wa, msg[wire.MaxFrame:])
	if n := receive(t, a); n < 80<<10 {
		t.Fatalf("the message within the budget: %d bytes", n)
	}
	write(wc, framesOf(10)) // a message of one frame needs no room
	if n := receive(t, c); n < 10 {
		t.Fatalf("a one-frame message: %d bytes", n)
	}
	// The message is a's until its next Receive, which returns its room.
	if b.Used() == 0 {
		t.Errorf("Budget.Used() = 0 while a's message may still be in use")
	}
	receive(t, a)
	if b.Used() != 0 {
		t.Errorf("Budget.Used() = %d once the message was used, want 0", b.Used())
	}
	write(wc, msg) // now there is room
	if n := receive(t, c); n < 80<<10 {
		t.Errorf("a message after the budget came back: %d bytes", n)
	}
	c.Close()
	a.Close()
	if b.Used() != 0 {
		t.Errorf("Budget.Used() = %d after Close, want 0", b.Used())
	}
}

func TestPartialMessageExpires(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"quiet gap", Config{MessageGap: 20 * time.Millisecond}},
		{"message time", Config{MessageGap: time.Hour, MessageTime: 20 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBudget(1 << 20)
			tc.cfg.Budget = b
			c, w := pipeConn(t, tc.cfg)
			msg := framesOf(80 << 10)
			write(w, msg[:wire.MaxFrame])
			if n := receive(t, c); n != -1 {
				t.Fatalf("a partial message was delivered (%d bytes)", n)
			}
			if st := c.Stats(); st.Expired != 1 || st.Broken != 1 || b.Used() != 0 {
				t.Errorf("after the gap: Stats() = %+v, Budget.Used() = %d; want 1 expired, 0 used", st, b.Used())
			}
			write(w, msg[wire.MaxFrame:]) // the rest comes too late
			if n := receive(t, c); n != -1 {
				t.Errorf("the rest of an expired message was delivered (%d bytes)", n)
			}
			write(w, msg)
			if n := receive(t, c); n < 80<<10 {
				t.Errorf("a whole message after: %d bytes", n)
			}
		})
	}
}
