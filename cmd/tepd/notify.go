package main

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
)

// notify tells the service manager how tepd is doing, in sd_notify(3)'s
// protocol: one datagram of VAR=VALUE lines to the unix socket named by
// $NOTIFY_SOCKET ("@NAME" for the abstract namespace, as Go spells it
// too). Without $NOTIFY_SOCKET, as when tepd is not run by systemd with
// Type=notify, it does nothing. A failure is logged, never fatal: the
// ports serve either way.
func notify(log *slog.Logger, state string) {
	if err := sendNotify(os.Getenv("NOTIFY_SOCKET"), state); err != nil {
		log.Warn("telling the service manager", "state", state, "err", err)
	}
}

func sendNotify(socket, state string) error {
	if socket == "" {
		return nil
	}
	if !strings.HasPrefix(socket, "/") && !strings.HasPrefix(socket, "@") {
		return fmt.Errorf("NOTIFY_SOCKET %q: want an absolute path or @name", socket)
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: socket, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte(state))
	return err
}
