package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"tep.dev/tep/attest/api"
	"tep.dev/tep/attest/appraise"
	"tep.dev/tep/attest/credential"
	"tep.dev/tep/attest/dashboard"
	"tep.dev/tep/attest/ekcert"
	"tep.dev/tep/attest/natsquote"
	"tep.dev/tep/attest/ops"
	"tep.dev/tep/attest/verifier"
	"tep.dev/tep/internal/cli"
)

// Files in the state directory besides dbFile.
const (
	tlsCertFile    = "tls-cert.pem"
	tlsKeyFile     = "tls-key.pem"
	signingKeyFile = "signing-key.pem"
	signingPubFile = "signing-pub.pem"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// serveConfig is tep-verifier serve's flags.
type serveConfig struct {
	state, db, replica, listen, clientCA, logLevel string
	ekCA, san                                      listFlag
	pullInterval, pullTimeout                      time.Duration
	pullParallel                                   int
	allowSHA1                                      bool
	// The dashboard's stale state, and shutdown.
	interval, shutdownTimeout time.Duration
	staleAfter                int
	nats                      natsquote.ConnConfig
	// Enrolment limits (api.Config); a rate of 0 turns its limit off.
	enrollRate, refusedRate                   float64
	enrollBurst, refusedBurst, refusedSources int
}

func parseServe(args []string, stderr io.Writer) (serveConfig, error) {
	var c serveConfig
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.state, "state", "", "state directory: database, TLS certificate, report-signing key")
	fs.StringVar(&c.db, "db", os.Getenv(dbEnv), "database: sqlite:PATH, or postgres://... for replicas sharing one ("+dbEnv+"; default: sqlite:STATE/"+dbFile+")")
	fs.StringVar(&c.replica, "replica", "", "this replica's name in the database's claims on scheduled pulls (default: host-pid-random)")
	fs.StringVar(&c.listen, "listen", ":8443", "HTTPS address")
	fs.Var(&c.ekCA, "ek-ca", "PEM file of EK CA certificates: roots and intermediates (repeatable)")
	fs.StringVar(&c.clientCA, "client-ca", "", "PEM file of the CA of operators' client certificates (role in the OU)")
	fs.Var(&c.san, "san", "DNS name or IP address for a new TLS certificate (repeatable; default: hostname, localhost, 127.0.0.1)")
	fs.DurationVar(&c.pullInterval, "pull-interval", time.Minute, "how often to pull evidence from pull-mode agents; 0: never")
	fs.DurationVar(&c.pullTimeout, "pull-timeout", 30*time.Second, "bound of one pull; a replica's claim on a host lasts 1.5 times it")
	fs.IntVar(&c.pullParallel, "pull-parallel", 8, "pulls at a time")
	fs.BoolVar(&c.allowSHA1, "allow-sha1", false, "accept quotes whose only bank is SHA-1")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.DurationVar(&c.interval, "interval", 0, "how often hosts are expected to attest, for the dashboard's stale state (default: --pull-interval, or 1m)")
	fs.IntVar(&c.staleAfter, "stale-after", dashboard.DefaultStaleAfter, "intervals without a stored report after which a host is stale")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGTERM, how long requests in flight may take to finish")
	fs.Float64Var(&c.enrollRate, "enroll-rate", api.DefaultEnrollRate, "enrolments a second whose certificates are checked, from every address together; 0: no limit")
	fs.IntVar(&c.enrollBurst, "enroll-burst", api.DefaultEnrollBurst, "enrolments at once beyond --enroll-rate")
	fs.Float64Var(&c.refusedRate, "enroll-refused-rate", api.DefaultRefusedRate, "refused enrolments and activations a second from one address (IPv6: one /64) before it is answered 429; 0: no limit")
	fs.IntVar(&c.refusedBurst, "enroll-refused-burst", api.DefaultRefusedBurst, "refusals at once from one address beyond --enroll-refused-rate")
	fs.IntVar(&c.refusedSources, "enroll-sources", api.DefaultRefusedSources, "refused addresses remembered (the least recently refused is forgotten first)")
	c.nats.Flags(fs)
	if err := cli.Parse(fs, args); err != nil {
		return c, err
	}
	if err := c.checkLimits(); err != nil {
		return c, err
	}
	if c.state == "" {
		return c, cli.Usagef("serve: --state is required")
	}
	if len(c.ekCA) == 0 {
		return c, cli.Usagef("serve: --ek-ca is required: enrolment checks EK certificates against it")
	}
	return c, nil
}

// checkLimits refuses enrolment limits that make no sense: negative,
// not a number, infinite, or a rate with no burst.
func (c serveConfig) checkLimits() error {
	for _, r := range []struct {
		name, burstName string
		rate            float64
		burst           int
	}{{"--enroll-rate", "--enroll-burst", c.enrollRate, c.enrollBurst}, {"--enroll-refused-rate", "--enroll-refused-burst", c.refusedRate, c.refusedBurst}} {
		switch {
		case math.IsNaN(r.rate) || math.IsInf(r.rate, 0) || r.rate < 0:
			return cli.Usagef("serve: %s %v: a number of requests a second, 0 for no limit", r.name, r.rate)
		case r.rate > 0 && r.burst < 1:
			return cli.Usagef("serve: %s %d: at least 1 with %s %v", r.burstName, r.burst, r.name, r.rate)
		}
	}
	if c.refusedSources < 1 {
		return cli.Usagef("serve: --enroll-sources %d: at least 1", c.refusedSources)
	}
	return nil
}

// apiLimits are the enrolment limits as api.Config takes them: a rate
// of 0 is no limit.
func (c serveConfig) apiLimits(cfg api.Config) api.Config {
	off := func(r float64) float64 {
		if r == 0 {
			return api.NoLimit
		}
		return r
	}
	cfg.EnrollRate, cfg.EnrollBurst = off(c.enrollRate), c.enrollBurst
	cfg.RefusedRate, cfg.RefusedBurst, cfg.RefusedSources = off(c.refusedRate), c.refusedBurst, c.refusedSources
	return cfg
}

func runServe(ctx context.Context, args []string, stderr io.Writer) error {
	c, err := parseServe(args, stderr)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return fmt.Errorf("log level %q: %w", c.logLevel, err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if err := os.MkdirAll(c.state, 0o700); err != nil {
		return err
	}
	if c.replica == "" {
		c.replica = verifier.DefaultReplica()
	}
	s, err := openStore(ctx, c.db, c.state)
	if err != nil {
		return err
	}
	defer s.Close()
	var key crypto.Signer
	var cert tls.Certificate
	err = withStateLock(c.state, func() (err error) {
		if key, err = signingKey(c.state); err != nil {
			return err
		}
		cert, err = tlsCert(c.state, c.san, log)
		return err
	})
	if err != nil {
		return err
	}
	ek, err := loadEKCAs(c.ekCA)
	if err != nil {
		return err
	}
	var clientCA []byte
	if c.clientCA != "" {
		if clientCA, err = os.ReadFile(c.clientCA); err != nil {
			return err
		}
	}
	tlsCfg, err := api.ServerTLS(cert, clientCA)
	if err != nil {
		return err
	}
	if c.interval <= 0 {
		c.interval = c.pullInterval
	}
	if c.interval <= 0 {
		c.interval = dashboard.DefaultInterval
	}
	metrics := ops.NewMetrics(ops.DueHosts(s, c.interval, time.Now), log)
	health := ops.NewHealth(log, readiness(s, key, cert)...)
	ap := appraise.New(appraise.Config{Store: s, Key: key, AllowSHA1Only: c.allowSHA1})
	fetch := transports{"https": &api.Fetcher{Cert: cert}}
	if c.nats.URL != "" {
		nc, err := connectNATS(c.nats, log)
		if err != nil {
			return err
		}
		defer nc.Close()
		fetch[natsquote.Scheme] = &natsquote.Fetcher{Conn: nc}
	}
	v := verifier.New(verifier.Config{
		Store: s, EK: ek, Credential: credential.Make, Appraiser: metrics.Appraiser(ap), Policies: ap,
		Fetcher: metrics.Fetcher(verifier.Transports(fetch)), Replica: c.replica, Log: log,
	})
	dash, err := dashboard.New(dashboard.Config{Store: s, Interval: c.interval, StaleAfter: c.staleAfter, Log: log})
	if err != nil {
		return err
	}
	metrics.Hosts(hostStates(dash))
	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler: handler(api.New(c.apiLimits(api.Config{Verifier: v, Log: log, ReportKey: key.Public(), Refused: metrics.EnrollRefused})), dash, metrics, health), TLSConfig: tlsCfg,
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: time.Minute, WriteTimeout: time.Minute,
		IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 16 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	// At shutdown the pull loop releases its claims for other replicas
	// before the store closes (waited for below).
	pulling := make(chan struct{})
	go func() {
		defer close(pulling)
		var wg sync.WaitGroup
		if nc := fetch.natsConn(); nc != nil {
			wg.Go(func() { listenNATS(ctx, nc, v, c.pullTimeout, log) })
		}
		if c.pullInterval > 0 {
			v.PullLoop(ctx, c.pullInterval, c.pullTimeout, c.pullParallel)
		}
		wg.Wait()
	}()
	shut := make(chan error, 1)
	go func() {
		<-ctx.Done()
		shut <- shutdown(srv, health, c.shutdownTimeout, log)
	}()
	log.Info("serving", "addr", ln.Addr().String(), "state", c.state, "db", fmt.Sprintf("%T", s), "replica", c.replica)
	if err := srv.ServeTLS(ln, "", ""); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	// ServeTLS returns as soon as Shutdown begins: wait for the requests
	// in flight and the pull loop before the store is closed.
	err = <-shut
	<-pulling
	if err != nil {
		return err
	}
	log.Info("shut down")
	return nil
}

// withStateLock runs fn holding an exclusive flock(2) on the state
// directory: replicas that share a copy of it and start at once make
// one signing key and one TLS certificate, not one each.
func withStateLock(state string, fn func() error) error {
	d, err := os.Open(state)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := syscall.Flock(int(d.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("locking %s: %w", state, err)
	}
	defer syscall.Flock(int(d.Fd()), syscall.LOCK_UN)
	return fn()
}

// shutdown stops taking connections and waits, at most timeout, for the
// requests in flight (an attestation is stored before its reply).
func shutdown(srv *http.Server, h *ops.Health, timeout time.Duration, log *slog.Logger) error {
	h.Drain()
	log.Info("shutting down: no new connections; finishing the requests in flight", "timeout", timeout)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("shutting down: requests still in flight after %s: %w", timeout, err)
	}
	return nil
}

// ekCAs checks EK certificates against the configured CAs.
type ekCAs struct{ roots, inter *x509.CertPool }

func (e *ekCAs) Check(cert, ekPublic []byte) error {
	_, err := ekcert.Verify(cert, ekPublic, ekcert.Options{Roots: e.roots, Intermediates: e.inter})
	return err
}

// loadEKCAs reads PEM files of EK CAs: self-signed ones are roots, the
// others intermediates.
func loadEKCAs(files []string) (*ekCAs, error) {
	e := &ekCAs{roots: x509.NewCertPool(), inter: x509.NewCertPool()}
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		for rest := b; ; {
			var blk *pem.Block
			if blk, rest = pem.Decode(rest); blk == nil {
				break
			}
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("EK CA %s: %w", f, err)
			}
			if c.CheckSignatureFrom(c) == nil {
				e.roots.AddCert(c)
			} else {
				e.inter.AddCert(c)
			}
			n++
		}
	}
	if n == 0 {
		return nil, errors.New("--ek-ca: no certificate in the files")
	}
	return e, nil
}

// signingKey loads the report- and policy-signing key, making a P-256
// key on first start; its public key goes beside it for relying parties.
func signingKey(state string) (crypto.Signer, error) {
	path := filepath.Join(state, signingKeyFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		der, _ := x509.MarshalPKCS8PrivateKey(k)
		pub, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, err
		}
		return k, os.WriteFile(filepath.Join(state, signingPubFile), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644)
	}
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: not a signing key", path)
	}
	return s, nil
}

// tlsCert loads the verifier's TLS certificate, making a self-signed one
// on first start for sans (or the hostname, localhost and 127.0.0.1).
func tlsCert(state string, sans []string, log *slog.Logger) (tls.Certificate, error) {
	certPath, keyPath := filepath.Join(state, tlsCertFile), filepath.Join(state, tlsKeyFile)
	if _, err := os.Stat(certPath); errors.Is(err, os.ErrNotExist) {
		if len(sans) == 0 {
			h, _ := os.Hostname()
			sans = []string{h, "localhost", "127.0.0.1", "::1"}
		}
		certPEM, keyPEM, err := api.SelfSigned("tep-verifier", sans, time.Now())
		if err != nil {
			return tls.Certificate{}, err
		}
		if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
			return tls.Certificate{}, err
		}
		if err := os.WriteFile(certPath, certPEM, 0o644); err != nil {
			return tls.Certificate{}, err
		}
		log.Info("made a TLS certificate: agents and operators pin it", "file", certPath, "names", strings.Join(sans, ","))
	}
	return tls.LoadX509KeyPair(certPath, keyPath)
}
