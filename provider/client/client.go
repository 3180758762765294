package client

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"tep.dev/tep/channel"
	"tep.dev/tep/link"
	"tep.dev/tep/p11"
)

// Client is one process's connection to tepd.
type Client struct {
	cfg    Config
	stream link.Stream
	link   *link.Client
	stop   chan struct{}
	done   sync.WaitGroup

	serverKey channel.PublicKey

	// endsMu guards ends: the operations whose end the server has yet to
	// hear of (EndOperation), sent before the next call.
	endsMu sync.Mutex
	ends   []p11.EndOperationReq
}

// ErrLink wraps every failure to reach the server; the edge answers it
// with CKR_DEVICE_ERROR and logs it.
var ErrLink = errors.New("tep link")

// Dial opens the port, checks within cfg.StartTimeout that a server
// answers, sets up the secure channel with it (checking its key against
// cfg.ServerKey when set) and registers this process as a client.
func Dial(cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	s, lock, err := link.Dial(cfg.Port, cfg.Baud)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLink, err)
	}
	if t, ok := s.(*link.TTY); ok {
		if cfg.Spin > 0 {
			t.SetSpin(cfg.Spin)
		}
		t.SetRawWaits(cfg.RawWaits)
	}
	id, err := newID()
	if err != nil {
		s.Close()
		return nil, err
	}
	c := &Client{cfg: cfg, stream: s, link: link.NewClient(s, lock, id, cfg.CallTimeout, link.Config{}), stop: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.StartTimeout)
	defer cancel()
	if err := c.link.Ping(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("%w: no answer from a TEP server on %s within %v: %v", ErrLink, cfg.Port, cfg.StartTimeout, err)
	}
	if err := c.handshake(ctx); err != nil {
		s.Close()
		return nil, err
	}
	var r p11.HelloResp
	if err := c.callCtx(ctx, p11.FnInitialize, &p11.HelloReq{PID: int64(os.Getpid())}, &r); err != nil {
		s.Close()
		return nil, err
	}
	c.cfg.KeepAlive = keepAliveFor(c.cfg.KeepAlive, time.Duration(r.LeaseMs)*time.Millisecond)
	c.done.Add(1)
	go c.keepAlive()
	return c, nil
}

// ErrServerKey wraps a server key that differs from the pinned one; the
// edge logs it and C_Initialize fails.
var ErrServerKey = errors.New("tep server key")

// handshake runs the secure channel's handshake.
func (c *Client) handshake(ctx context.Context) error {
	key, err := c.link.Handshake(ctx, c.cfg.ServerKey)
	if errors.Is(err, channel.ErrServerKeyMismatch) {
		return fmt.Errorf("%w: the server on %s is not the one %s pins: %v", ErrServerKey, c.cfg.Port, EnvServerKey, err)
	}
	if err != nil {
		return fmt.Errorf("%w: no secure channel with the TEP server on %s: %v", ErrLink, c.cfg.Port, err)
	}
	c.serverKey = key
	return nil
}

// ServerKey returns the static key of the server the channel runs with,
// and whether it was pinned (Config.ServerKey).
func (c *Client) ServerKey() (key channel.PublicKey, pinned bool) {
	return c.serverKey, c.cfg.ServerKey != nil
}

// keepAliveFor returns the keep-alive interval for a server that drops a
// client silent for lease: at most the configured interval, and often
// enough that two keep-alives may go astray before the lease runs out.
func keepAliveFor(interval, lease time.Duration) time.Duration {
	if lease > 0 {
		interval = min(interval, lease/3)
	}
	return max(interval, 10*time.Millisecond)
}

// newID draws a random client id: unique among the clients of a server
// without coordination.
func newID() (uint64, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return 0, fmt.Errorf("drawing a client id: %w", err)
	}
	return binary.LittleEndian.Uint64(b[:]) | 1, nil
}

// ID returns the client id.
func (c *Client) ID() uint64 { return c.link.ID() }

// keepAlive tells the server this process lives, so its sessions outlast
// the server's lease while the application is idle.
func (c *Client) keepAlive() {
	defer c.done.Done()
	t := time.NewTicker(c.cfg.KeepAlive)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), c.cfg.KeepAlive)
			c.link.Notify(ctx, p11.FnKeepAlive, nil)
			cancel()
		}
	}
}

// Close unregisters the client and closes the port. The server forgets
// the client's sessions and logins.
func (c *Client) Close() error {
	close(c.stop)
	c.done.Wait()
	var r p11.RVResp
	err := c.call(p11.FnFinalize, nil, &r)
	c.stream.Close()
	return err
}

// call makes one PKCS#11 call: req is encoded, resp decoded, and resp's
// return value becomes the error when it is not CKR_OK.
func (c *Client) call(fn uint16, req any, resp p11.Resp) error {
	return c.callCtx(context.Background(), fn, req, resp)
}

func (c *Client) callCtx(ctx context.Context, fn uint16, req any, resp p11.Resp) error {
	c.sendEnds(ctx)
	err := c.exchange(ctx, fn, req, resp)
	init, ok := p11.OperationOf(fn)
	if p11.IsOperationInit(fn) {
		init, ok = fn, true
	}
	if ok && errors.Is(err, ErrLink) {
		// The call may not have reached the server, or its answer was
		// lost: the caller sees an error, which ends the operation (or,
		// for an init, leaves none).
		if on, ok := req.(p11.OnSession); ok {
			c.endLater(p11.EndOperationReq{Session: on.SessionHandle(), Init: init})
		}
	}
	return err
}

// EndOperation tells the server that the operation init started on
// session has ended on an error the server did not see (p11.FnEndOperation):
// a caller's bad argument, or a call the link broke. If the link fails
// again, the notice waits for the next call, which sends it first, so the
// server never keeps an operation the caller was told had ended. The
// error is the server's answer: CKR_SESSION_HANDLE_INVALID for a session
// that is not the caller's.
func (c *Client) EndOperation(session uint64, init uint16) error {
	c.sendEnds(context.Background())
	req := p11.EndOperationReq{Session: session, Init: init}
	err := c.exchange(context.Background(), p11.FnEndOperation, &req, &p11.RVResp{})
	if errors.Is(err, ErrLink) {
		c.endLater(req)
	}
	return err
}

// endLater keeps an EndOperation notice for the next call.
func (c *Client) endLater(req p11.EndOperationReq) {
	c.endsMu.Lock()
	c.ends = append(c.ends, req)
	c.endsMu.Unlock()
}

// sendEnds sends the pending EndOperation notices; those the link fails
// to carry stay pending.
func (c *Client) sendEnds(ctx context.Context) {
	c.endsMu.Lock()
	defer c.endsMu.Unlock()
	for len(c.ends) > 0 {
		if err := c.exchange(ctx, p11.FnEndOperation, &c.ends[0], &p11.RVResp{}); errors.Is(err, ErrLink) {
			return
		}
		c.ends = c.ends[1:]
	}
}

// exchange sends one call and reads its answer.
func (c *Client) exchange(ctx context.Context, fn uint16, req any, resp p11.Resp) error {
	var body []byte
	if req != nil {
		var err error
		if body, err = p11.Marshal(req); err != nil {
			return fmt.Errorf("encoding call %d: %w", fn, err)
		}
	}
	var rv p11.RV
	err := c.link.Call(ctx, fn, body, func(reply []byte) error {
		if p11.IsFailure(reply) {
			var r p11.RVResp
			err := p11.Unmarshal(reply, &r)
			rv = r.RV
			return err
		}
		if err := p11.Unmarshal(reply, resp); err != nil {
			return err
		}
		rv = resp.Result()
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w: call %d on %s: %w", ErrLink, fn, c.cfg.Port, err)
	}
	if rv != p11.CKR_OK {
		return rv
	}
	return nil
}

// PortFD returns the descriptor of the tty the client holds, or -1 for a
// socket. The cgo edge hands it to the fork handler, which closes it in a
// child so the child cannot hold the parent's port lock.
func (c *Client) PortFD() int {
	if t, ok := c.stream.(*link.TTY); ok {
		return t.FD()
	}
	return -1
}
