package main

import (
	"context"
	"io"
	"log/slog"
	"os"

	"tep.dev/tep/attest/agentsvc"
	"tep.dev/tep/attest/natsquote"
	"tep.dev/tep/internal/cli"
)

// runNATS answers the verifier's quote requests over NATS until ctx
// ends: one outbound connection, reconnecting with backoff.
func runNATS(ctx context.Context, c common, cfg agentsvc.Config, nc natsquote.ConnConfig, hostID string, stderr io.Writer) error {
	if hostID != "" && hostID != cfg.HostID {
		return cli.Usagef("--host-id %q: this agent enrolled as %q", hostID, cfg.HostID)
	}
	if cfg.PullURL != natsquote.URL(cfg.HostID) {
		return cli.Usagef("run --nats: this agent did not enrol in NATS mode; enroll again with --nats URL")
	}
	if nc.URL == "" {
		nc.URL = cfg.NATS
	}
	if nc.User != "" && nc.PasswordFile == "" {
		nc.Password = os.Getenv("TEP_NATS_PASSWORD")
	}
	nc.Name = "tep-attest " + cfg.HostID
	log := slog.New(slog.NewTextHandler(stderr, nil))
	t, a, err := c.open(cfg)
	if err != nil {
		return err
	}
	defer t.Close()
	conn, err := natsquote.Connect(nc, log)
	if err != nil {
		return err
	}
	defer conn.Close()
	log.Info("attesting over NATS", "host", cfg.HostID, "nats", nc.URL)
	return natsquote.Serve(ctx, conn, cfg.HostID, a, log)
}
