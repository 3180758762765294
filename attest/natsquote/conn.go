package natsquote

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Backoff bounds of a reconnecting connection, unless ConnConfig says
// otherwise.
const (
	DefaultBackoffMin = 500 * time.Millisecond
	DefaultBackoffMax = 30 * time.Second
)

// ConnConfig says how to reach the NATS server. Its zero value is not
// enough: URL is required. Credentials are one of Creds, NKeySeed, or
// User with Password; TLS is used when the URL says tls:// or the server
// requires it, checked against CAFile (else the system's roots).
type ConnConfig struct {
	// URL is the server, nats://HOST:4222 or tls://HOST:4222; several
	// may be given separated by commas.
	URL string
	// Creds is a NATS credentials file (a user JWT and its NKey seed),
	// for servers in operator mode.
	Creds string
	// NKeySeed is a file holding a user NKey seed ("SU...").
	NKeySeed string
	// User and Password authenticate with a user name; PasswordFile
	// holds the password, so that it stays off command lines.
	User, Password, PasswordFile string
	// CAFile is the PEM bundle that the server's certificate must chain
	// to; CertFile and KeyFile a client certificate, for servers that
	// verify clients.
	CAFile, CertFile, KeyFile string
	// Name is the connection's name in the server's monitoring.
	Name string
	// BackoffMin and BackoffMax bound the reconnect delay, which doubles
	// from BackoffMin at each failed attempt up to BackoffMax, with up to
	// a quarter of random jitter.
	BackoffMin, BackoffMax time.Duration
}

// Flags registers the connection's command-line flags on fs, for
// tep-attest and tep-verifier alike.
func (c *ConnConfig) Flags(fs *flag.FlagSet) {
	fs.StringVar(&c.URL, "nats", "", "NATS server URL, nats://HOST:4222 or tls://HOST:4222 (comma-separated for several)")
	fs.StringVar(&c.Creds, "nats-creds", "", "NATS credentials file (user JWT and NKey seed)")
	fs.StringVar(&c.NKeySeed, "nats-nkey", "", "file holding a NATS user NKey seed")
	fs.StringVar(&c.User, "nats-user", "", "NATS user name (password from --nats-password-file or TEP_NATS_PASSWORD)")
	fs.StringVar(&c.PasswordFile, "nats-password-file", "", "file holding the NATS user's password")
	fs.StringVar(&c.CAFile, "nats-ca", "", "PEM file of the CA that the NATS server's certificate chains to")
	fs.StringVar(&c.CertFile, "nats-cert", "", "client certificate (PEM) for a NATS server that verifies clients")
	fs.StringVar(&c.KeyFile, "nats-key", "", "the client certificate's key (PEM)")
}

// ErrConfig is returned for a ConnConfig that cannot be used.
var ErrConfig = errors.New("natsquote: configuration")

// options turns c into nats.go options.
func (c ConnConfig) options() ([]nats.Option, error) {
	var opts []nats.Option
	n := 0
	if c.Creds != "" {
		opts = append(opts, nats.UserCredentials(c.Creds))
		n++
	}
	if c.NKeySeed != "" {
		o, err := nats.NkeyOptionFromSeed(c.NKeySeed)
		if err != nil {
			return nil, fmt.Errorf("NKey seed %s: %w", c.NKeySeed, err)
		}
		opts = append(opts, o)
		n++
	}
	if c.User != "" {
		pw := c.Password
		if c.PasswordFile != "" {
			b, err := os.ReadFile(c.PasswordFile)
			if err != nil {
				return nil, fmt.Errorf("NATS password: %w", err)
			}
			pw = strings.TrimRight(string(b), "\r\n")
		}
		if pw == "" {
			return nil, fmt.Errorf("%w: user %q has no password", ErrConfig, c.User)
		}
		opts = append(opts, nats.UserInfo(c.User, pw))
		n++
	}
	if n > 1 {
		return nil, fmt.Errorf("%w: give one of a credentials file, an NKey seed or a user", ErrConfig)
	}
	if c.CAFile != "" {
		opts = append(opts, nats.RootCAs(c.CAFile))
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return nil, fmt.Errorf("%w: a client certificate needs its key, and a key its certificate", ErrConfig)
	}
	if c.CertFile != "" {
		opts = append(opts, nats.ClientCert(c.CertFile, c.KeyFile))
	}
	return opts, nil
}

// Connect connects to the server. The connection reconnects forever
// with backoff (see ConnConfig), and keeps retrying if the server is
// down at the start: a device that boots before the network does keeps
// trying. Disconnections and reconnections are logged.
func Connect(c ConnConfig, log *slog.Logger) (*nats.Conn, error) {
	if c.URL == "" {
		return nil, fmt.Errorf("%w: no server URL", ErrConfig)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts, err := c.options()
	if err != nil {
		return nil, err
	}
	lo, hi := c.BackoffMin, c.BackoffMax
	if lo <= 0 {
		lo = DefaultBackoffMin
	}
	if hi < lo {
		hi = max(lo, DefaultBackoffMax)
	}
	opts = append(opts,
		nats.Name(c.Name),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.CustomReconnectDelay(func(attempts int) time.Duration { return backoff(attempts, lo, hi) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn("NATS disconnected", "err", err)
		}),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn("NATS connection attempt failed", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("NATS reconnected", "server", nc.ConnectedUrlRedacted(), "reconnects", nc.Stats().Reconnects)
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			log.Warn("NATS error", "err", err)
		}),
	)
	nc, err := nats.Connect(c.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to NATS %s: %w", c.URL, err)
	}
	return nc, nil
}

// backoff is the delay before reconnect attempt n (from 1): lo doubled
// n-1 times, at most hi, plus up to a quarter of jitter so that a fleet
// does not reconnect in step after a server restart.
func backoff(n int, lo, hi time.Duration) time.Duration {
	d := hi
	if n >= 1 && n < 32 {
		d = min(lo<<(n-1), hi)
	}
	return d + rand.N(d/4+1)
}
