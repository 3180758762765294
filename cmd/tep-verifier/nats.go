package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats.go"

	"tep.dev/tep/attest/natsquote"
	"tep.dev/tep/attest/verifier"
)

// transports are serve's fetchers by pull URL scheme.
type transports verifier.Transports

// natsConn is the NATS fetcher's connection, nil without --nats.
func (t transports) natsConn() *nats.Conn {
	if f, ok := t[natsquote.Scheme].(*natsquote.Fetcher); ok {
		return f.Conn
	}
	return nil
}

// listenNATS joins the verifiers' queue group on agents' announcements
// and attests each announced NATS-mode host at once, each pull bounded
// by timeout.
func listenNATS(ctx context.Context, nc *nats.Conn, v *verifier.Verifier, timeout time.Duration, log *slog.Logger) {
	err := natsquote.Listen(ctx, nc, 0, 0, func(ctx context.Context, id string) {
		pctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		// Only a NATS-mode host's own announcement makes a pull: anyone on
		// the subject may announce any id, and an HTTPS host pulled on a
		// stranger's word would cost a pull for nothing.
		if h, err := v.Store().Host(pctx, id); err != nil || h.PullURL != natsquote.URL(id) {
			log.Debug("announcement of a host not in NATS mode", "host", id)
			return
		}
		r, err := v.Pull(pctx, id)
		switch {
		case errors.Is(err, verifier.ErrNotFound), errors.Is(err, verifier.ErrInvalid):
			// Not a NATS-mode host of ours: anyone may announce.
			log.Debug("announcement of an unknown host", "host", id, "err", err)
		case err != nil:
			log.Warn("pull on announcement failed", "host", id, "err", err)
		default:
			log.Info("attested on announcement", "host", id, "report", r.ID, "trusted", r.Trusted)
		}
	}, log)
	if err != nil {
		log.Error("NATS announcements", "err", err)
	}
}

// connectNATS connects to the NATS server that NATS-mode agents answer
// on; the password of --nats-user comes from TEP_NATS_PASSWORD unless
// --nats-password-file names a file.
func connectNATS(c natsquote.ConnConfig, log *slog.Logger) (*nats.Conn, error) {
	if c.User != "" && c.PasswordFile == "" {
		c.Password = os.Getenv("TEP_NATS_PASSWORD")
	}
	if c.Name == "" {
		h, _ := os.Hostname()
		c.Name = "tep-verifier " + h
	}
	nc, err := natsquote.Connect(c, log)
	if err != nil {
		return nil, err
	}
	log.Info("requesting evidence of NATS-mode hosts", "nats", c.URL)
	return nc, nil
}
