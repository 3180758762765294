package link

import (
	"context"
	"errors"

	"tep.dev/tep/wire"
)

// Handler answers one call. The request and its Body are valid only during
// the call; the returned body (one msgpack value, or nil) is sent as the
// reply. For a oneway call the result is discarded.
type Handler func(req *wire.Message) []byte

// Serve reads calls from c and answers them with h until ctx ends or the
// stream fails. A call in progress when ctx ends is finished and answered.
// Pings are answered here; a call in another protocol version gets an
// empty reply carrying this version, which tells the client to give up.
func Serve(ctx context.Context, c *Conn, h Handler) error {
	stop := context.AfterFunc(ctx, c.Interrupt)
	defer stop()
	for {
		req, err := c.Receive(timeZero)
		if errors.Is(err, ErrInterrupted) {
			return ctx.Err()
		}
		if err != nil {
			return err
		}
		if req.Type != wire.Invocation && req.Type != wire.Oneway {
			continue // replies and notifications are not for a server
		}
		reply := wire.Message{Version: wire.Version, Type: wire.Reply, Func: req.Func, Client: req.Client, Seq: req.Seq}
		switch {
		case req.Version != wire.Version:
		case req.Func == wire.FuncPing:
			reply.Body = req.Body
		default:
			reply.Body = h(req)
		}
		if req.Type == wire.Oneway {
			continue
		}
		if err := c.Send(&reply); err != nil {
			return err
		}
	}
}
