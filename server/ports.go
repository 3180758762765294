package server

import (
	"context"
	"errors"
	"net"
	"sync"

	"tep.dev/tep/link"
)

// ServeStream answers calls on one stream (a serial port, a pty master, a
// socket connection) until ctx ends or the stream fails. A call in
// progress when ctx ends is finished and answered.
func (s *Server) ServeStream(ctx context.Context, st link.Stream, name string) error {
	conn := link.NewConn(st, link.Config{})
	err := link.Serve(ctx, conn, s.Handle)
	if st := conn.Stats(); st.Dropped+st.Broken+st.BadMessages > 0 {
		s.log.Info("port noise", "port", name, "stats", st.String(), "broken", st.Broken, "bad", st.BadMessages)
	}
	return err
}

// ServeUnix accepts connections on l and serves each until ctx ends.
func (s *Server) ServeUnix(ctx context.Context, l *net.UnixListener) error {
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := l.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			s.log.Warn("accepting a connection", "err", err)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			s.ServeStream(ctx, c, l.Addr().String())
		}()
	}
}
