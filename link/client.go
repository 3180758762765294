package link

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"sync/atomic"
	"time"

	"tep.dev/tep/channel"
	"tep.dev/tep/wire"
)

// Client makes calls to a server over one port. Each process (each
// PKCS#11 client) has its own id; replies that carry another id or an old
// sequence number are answers to someone else's call, or to a call whose
// caller gave up, and are dropped.
//
// After Handshake every call and its reply are sealed under the client's
// channel keys (package channel): a reply that does not open is dropped
// like a foreign one, so a process that writes on a shared tty cannot
// forge an answer. Ping stays in clear.
type Client struct {
	conn    *Conn
	lock    *Lock
	id      uint64
	timeout time.Duration
	stale   atomic.Uint64 // foreign, late or forged replies dropped

	// guarded by lock
	n      uint64        // the last call's nonce; its low 32 bits are its seq
	keys   *channel.Keys // nil until Handshake
	sealed []byte        // the sealed body of the call in flight
	hdr    [32]byte      // room for a message header as associated data
}

// DefaultTimeout bounds a call whose context has no deadline.
const DefaultTimeout = 30 * time.Second

// Errors from calls.
var (
	// ErrNoChannel means the server answered that it holds no channel
	// for this client: it restarted, or the client's lease ran out. The
	// answer is not authenticated, so the client does not run a new
	// handshake on its word: the application initialises again.
	ErrNoChannel = errors.New("link: the server holds no secure channel for this client (was tepd restarted?); finalize and initialize again")
	// errForged marks a reply that does not open under the client's keys.
	errForged = errors.New("link: reply does not authenticate")
)

// NoChannelGrace is how long a sealed call keeps waiting for an
// authenticated reply after an answer in clear that the server holds no
// channel for the client, or that it speaks another version. Such an
// answer is not authenticated: the real reply may still come, and only
// once none has come in the grace does the call fail with it.
const NoChannelGrace = time.Second

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

// acquire takes the port until the call's deadline.
func (c *Client) acquire(ctx context.Context) (time.Time, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(c.timeout)
	}
	return deadline, c.lock.Acquire(deadline)
}

// send sends the next call, of type typ, as client id; sealed once the
// channel is up unless plain is set. The port is held.
func (c *Client) send(id uint64, typ wire.Type, fn uint16, body []byte, plain bool) error {
	c.n++
	m := wire.Message{Version: wire.Version, Type: typ, Func: fn, Client: id, Seq: uint32(c.n), Body: body}
	if c.keys != nil && !plain {
		m.Func = wire.FuncSealed
		c.sealed = c.keys.Seal(c.sealed[:0], m.AppendHeader(c.hdr[:0]), c.n, fn, body)
		m.Body = c.sealed
		defer c.keepSealed()
	}
	return c.conn.Send(&m)
}

// keepSealed keeps the sealing buffer for the next call unless a rare
// large call made it big.
func (c *Client) keepSealed() {
	if cap(c.sealed) > 1<<20 {
		c.sealed = nil
	}
}

// reply waits for the reply to the call in flight: one with its client
// id and the call's sequence number. Others are counted and dropped.
func (c *Client) reply(id uint64, deadline time.Time) (*wire.Message, error) {
	for {
		m, err := c.conn.Receive(deadline)
		if err != nil {
			return nil, err
		}
		if m.Type != wire.Reply || m.Client != id || m.Seq != uint32(c.n) {
			c.stale.Add(1)
			continue
		}
		if m.Version != wire.Version {
			return nil, &versionError{m.Version}
		}
		return m, nil
	}
}

// versionError is a reply in another protocol version.
type versionError struct{ v uint8 }

func (e *versionError) Error() string {
	return fmt.Sprintf("server speaks protocol version %d, this client %d", e.v, wire.Version)
}

// open returns the body of reply m to a call of fn: in clear for a
// plain call, opened under the client's keys for a sealed one.
func (c *Client) open(m *wire.Message, fn uint16, plain bool) ([]byte, error) {
	if c.keys == nil || plain {
		return m.Body, nil
	}
	switch m.Func {
	case wire.FuncSealed:
	case wire.FuncNoChannel:
		return nil, ErrNoChannel
	default:
		return nil, errForged
	}
	got, body, err := c.keys.Open(m.AppendHeader(c.hdr[:0]), c.n, m.Body)
	if err != nil || got != fn {
		return nil, errForged
	}
	return body, nil
}

// Call sends an invocation of function fn with body (one msgpack value),
// waits for its reply and hands the reply body to decode while the port is
// still held, so decode may read it without copying. decode may be nil.
func (c *Client) Call(ctx context.Context, fn uint16, body []byte, decode func(reply []byte) error) error {
	return c.call(ctx, c.id, fn, body, false, decode)
}

func (c *Client) call(ctx context.Context, id uint64, fn uint16, body []byte, plain bool, decode func(reply []byte) error) error {
	deadline, err := c.acquire(ctx)
	if err != nil {
		return err
	}
	defer c.lock.Release()
	if err := c.send(id, wire.Invocation, fn, body, plain); err != nil {
		return fmt.Errorf("sending call: %w", err)
	}
	var hint error // an unauthenticated refusal, while a real reply may come
	for {
		m, err := c.reply(id, deadline)
		if errors.Is(err, ErrTimeout) && hint != nil {
			return hint
		}
		var reply []byte
		if err == nil {
			reply, err = c.open(m, fn, plain)
		}
		var verr *versionError
		switch {
		case errors.Is(err, errForged):
			c.stale.Add(1)
			continue
		case c.keys != nil && !plain && (errors.Is(err, ErrNoChannel) || errors.As(err, &verr)):
			c.stale.Add(1)
			if hint == nil {
				hint = err
				deadline = earliest(deadline, time.Now().Add(NoChannelGrace))
			}
			continue
		case err != nil:
			return err
		}
		if decode == nil {
			return nil
		}
		return decode(reply)
	}
}

// earliest returns the earlier of a and b.
func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// Ping checks that a server answers on the port. It is never sealed: it
// only asks whether a server is there. Before the handshake it goes out
// under a throwaway id: a ping's reply shows its id to every reader of the
// line, and one that raced the client's handshake with a handshake of its
// own for that id would have it refused.
func (c *Client) Ping(ctx context.Context) error {
	id := c.id
	if c.keys == nil {
		id = mrand.Uint64() | 1
	}
	return c.call(ctx, id, wire.FuncPing, nil, true, nil)
}

// Handshake sets up the client's secure channel with the server and
// returns the server's static key. With pinned set, a server holding
// another key is refused with channel.ErrServerKeyMismatch. An answer that
// does not complete the handshake is dropped like a foreign reply, and the
// real one awaited until the deadline.
func (c *Client) Handshake(ctx context.Context, pinned *channel.PublicKey) (channel.PublicKey, error) {
	var server channel.PublicKey
	h, msg1, err := channel.StartClient(c.id, pinned, nil)
	if err != nil {
		return server, err
	}
	deadline, err := c.acquire(ctx)
	if err != nil {
		return server, err
	}
	defer c.lock.Release()
	if err := c.send(c.id, wire.Invocation, wire.FuncHandshake, channel.AppendBin(nil, msg1), true); err != nil {
		return server, fmt.Errorf("sending the handshake: %w", err)
	}
	for {
		m, err := c.reply(c.id, deadline)
		if err != nil {
			return server, fmt.Errorf("awaiting the handshake's answer: %w", err)
		}
		msg2, ok := channel.Bin(m.Body)
		if m.Func != wire.FuncHandshake || !ok {
			c.stale.Add(1)
			continue
		}
		keys, key, _, err := h.Finish(msg2)
		if errors.Is(err, channel.ErrServerKeyMismatch) {
			return key, err
		}
		if err != nil {
			c.stale.Add(1)
			continue
		}
		c.keys = keys
		return key, nil
	}
}

// Stale reports how many replies meant for others, or forged, were
// dropped.
func (c *Client) Stale() uint64 { return c.stale.Load() }

// Notify sends a oneway call of function fn: no reply is awaited.
func (c *Client) Notify(ctx context.Context, fn uint16, body []byte) error {
	if _, err := c.acquire(ctx); err != nil {
		return err
	}
	defer c.lock.Release()
	if err := c.send(c.id, wire.Oneway, fn, body, false); err != nil {
		return fmt.Errorf("sending oneway call: %w", err)
	}
	return nil
}
