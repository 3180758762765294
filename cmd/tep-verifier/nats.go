package main

import (
	"log/slog"
	"os"

	"github.com/nats-io/nats.go"

	"tep.dev/tep/attest/natsquote"
)

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
