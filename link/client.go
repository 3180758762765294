package link

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"tep.dev/tep/wire"
)

// Client makes calls to a server over one port. Each process (each
// PKCS#11 client) has its own id; replies that carry another id or an old
// sequence number are answers to someone else's call, or to a call whose
// caller gave up, and are dropped.
type Client struct {
	conn    *Conn
	lock    *Lock
	id      uint64
	timeout time.Duration
	seq     uint32        // guarded by lock
	stale   atomic.Uint64 // foreign or late replies dropped
}

// DefaultTimeout bounds a call whose context has no deadline.
const DefaultTimeout = 30 * time.Second

// NewClient returns a client with the given id that calls over s,
// serialised by lock. timeout bounds a call whose context has no deadline
// (zero: DefaultTimeout).
func NewClient(s Stream, lock *Lock, id uint64, timeout time.Duration, cfg Config) *Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Client{conn: NewConn(s, cfg), lock: lock, id: id, timeout: timeout}
}

// ID returns the client id.
func (c *Client) ID() uint64 { return c.id }

// Call sends an invocation of function fn with body (one msgpack value),
// waits for its reply and hands the reply body to decode while the port is
// still held, so decode may read it without copying. decode may be nil.
func (c *Client) Call(ctx context.Context, fn uint16, body []byte, decode func(reply []byte) error) error {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(c.timeout)
	}
	if err := c.lock.Acquire(deadline); err != nil {
		return err
	}
	defer c.lock.Release()
	c.seq++
	req := wire.Message{Version: wire.Version, Type: wire.Invocation, Func: fn, Client: c.id, Seq: c.seq, Body: body}
	if err := c.conn.Send(&req); err != nil {
		return fmt.Errorf("sending call: %w", err)
	}
	for {
		m, err := c.conn.Receive(deadline)
		if err != nil {
			return err
		}
		if m.Type != wire.Reply || m.Client != c.id || m.Seq != c.seq {
			c.stale.Add(1)
			continue
		}
		if m.Version != wire.Version {
			return fmt.Errorf("server speaks protocol version %d, this client %d", m.Version, wire.Version)
		}
		if decode == nil {
			return nil
		}
		return decode(m.Body)
	}
}

// Ping checks that a server answers on the port.
func (c *Client) Ping(ctx context.Context) error {
	return c.Call(ctx, wire.FuncPing, nil, nil)
}

// Stale reports how many replies meant for others were dropped.
func (c *Client) Stale() uint64 { return c.stale.Load() }

// Notify sends a oneway call of function fn: no reply is awaited.
func (c *Client) Notify(ctx context.Context, fn uint16, body []byte) error {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(c.timeout)
	}
	if err := c.lock.Acquire(deadline); err != nil {
		return err
	}
	defer c.lock.Release()
	c.seq++
	m := wire.Message{Version: wire.Version, Type: wire.Oneway, Func: fn, Client: c.id, Seq: c.seq, Body: body}
	if err := c.conn.Send(&m); err != nil {
		return fmt.Errorf("sending oneway call: %w", err)
	}
	return nil
}
