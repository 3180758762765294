package link

import (
	"context"
	"errors"

	"tep.dev/tep/wire"
)

// Handler answers one call. The request and its Body are valid only during
// the call, and the handler may overwrite Body (to decrypt it in place).
// reply comes filled in as the answer's envelope (this version, type
// Reply, the request's function, client and sequence number); the handler
// sets its Body (one msgpack value, or nil) and may change its Func. It
// returns false to drop the request without any answer: a frame that
// fails authentication, a replay, a client it does not know. For a oneway
// call the reply is discarded.
type Handler func(req, reply *wire.Message) bool

// Serve reads calls from c and answers them with h until ctx ends or the
// stream fails. A call in progress when ctx ends is finished and answered.
// Pings are answered here. A ping in another protocol version gets an
// empty ping reply carrying this version, which tells the client to give
// up; any other call in another version is dropped. The answer never
// copies a foreign request's function in clear: a writer on one port
// would otherwise make the server send a reply of its choosing (say
// FuncNoChannel) under another client's id and sequence number.
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
		case req.Version != wire.Version && req.Func != wire.FuncPing:
			continue
		case req.Version != wire.Version:
		case req.Func == wire.FuncPing:
			reply.Body = req.Body
		default:
			if !h(req, &reply) {
				continue
			}
		}
		if req.Type == wire.Oneway {
			continue
		}
		if err := c.Send(&reply); err != nil {
			return err
		}
	}
}
