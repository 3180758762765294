package server

import (
	"context"
	"errors"
	"net"
	"sync"

	"tep.dev/tep/link"
	"tep.dev/tep/wire"
)

// ServeStream answers calls on one stream (a serial port, a pty master, a
// socket connection) until ctx ends or the stream fails. A call in
// progress when ctx ends is finished and answered.
//
// Its partial messages draw on the server's assembly budget (Limits), and
// what it drops goes into the server's summary as it happens; the port's
// own totals are logged when it stops.
func (s *Server) ServeStream(ctx context.Context, st link.Stream, name string) error {
	return s.serveStream(ctx, st, name, s.newBucket(), false)
}

// serveStream is ServeStream with the port's handshake rate, b. A
// stream of its own for one client (a unix socket connection) gives a
// frame as long to arrive as a message's frames have between them: a
// short gap inside a frame serves a shared line, where a killed client's
// partial frame must not swallow the next client's bytes; on a
// connection of one client it would only drop that client's call (and
// leave it waiting for its timeout) when the client's process stalls
// mid-frame, as a loaded guest can.
func (s *Server) serveStream(ctx context.Context, st link.Stream, name string, b *bucket, ownClient bool) error {
	cfg := link.Config{Budget: s.assembly, BudgetWait: s.limits.AssemblyWait}
	if ownClient {
		cfg.IdleGap = link.DefaultMessageGap
	}
	conn := link.NewConn(st, cfg)
	defer conn.Close()
	var last link.Stats
	note := func() {
		now := conn.Stats()
		s.countPort(now, last)
		last = now
	}
	err := link.Serve(ctx, conn, func(req, reply *wire.Message) bool {
		note() // the Conn's own goroutine: its counters are safe to read
		return s.handle(req, reply, b)
	})
	note()
	if st := conn.Stats(); st.Dropped+st.Broken+st.BadMessages+st.Refused > 0 {
		s.log.Info("port noise", "port", name, "stats", st.String(), "broken", st.Broken,
			"expired", st.Expired, "over_budget", st.Refused, "bad", st.BadMessages)
	}
	return err
}

// ServeUnix accepts connections on l and serves each until ctx ends, at
// most Limits.Connections at once (more wait in the listen queue), with
// one handshake rate for all of them.
func (s *Server) ServeUnix(ctx context.Context, l *net.UnixListener) error {
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, s.limits.Connections)
	b := s.newBucket() // one handshake rate for all the socket's connections
	for {
		// More connections than the limit wait in the listen queue.
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		c, err := l.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			<-slots
			s.log.Warn("accepting a connection", "err", err)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			defer c.Close()
			s.serveStream(ctx, c, l.Addr().String(), b, true)
		}()
	}
}
