package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"tep.dev/tep/attest/agent"
	"tep.dev/tep/attest/agentsvc"
	"tep.dev/tep/attest/api"
	"tep.dev/tep/attest/natsquote"
	"tep.dev/tep/internal/cli"
	"tep.dev/tep/tpm"
)

// Files in the agent's state directory besides agentsvc.ConfigFile.
const (
	pullCertFile = "pull-cert.pem"
	pullKeyFile  = "pull-key.pem"
)

// common are the flags every subcommand has.
type common struct {
	state, tpm string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.state, "state", "", "the agent's state directory")
	fs.StringVar(&c.tpm, "tpm", "", "TPM: sim, swtpm:HOST:PORT, swtpm:unix:PATH or a device path")
}

// open opens the TPM and the agent on it.
func (c *common) open(cfg agentsvc.Config) (*tpm.TPM, *agent.Agent, error) {
	if c.state == "" || c.tpm == "" {
		return nil, nil, cli.Usagef("--state and --tpm are required")
	}
	if err := os.MkdirAll(c.state, 0o700); err != nil {
		return nil, nil, err
	}
	t, err := tpm.Open(c.tpm, filepath.Join(c.state, "tpm"))
	if err != nil {
		return nil, nil, err
	}
	a, err := agent.New(t, agent.Config{StateDir: c.state, IMALogPath: cfg.IMALog, BootLogPath: cfg.BootLog})
	if err != nil {
		t.Close()
		return nil, nil, err
	}
	return t, a, nil
}

func runEnroll(ctx context.Context, args []string, std cli.IO) error {
	stdout, stderr := std.Out, std.Err
	var c common
	var cfg agentsvc.Config
	fs := flag.NewFlagSet("enroll", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.register(fs)
	caFile := fs.String("ca", "", "the verifier's certificate (PEM), pinned")
	token := fs.String("token", os.Getenv("TEP_ENROLL_TOKEN"), "one-time enrolment token (TEP_ENROLL_TOKEN); none if the verifier allows this EK")
	fs.StringVar(&cfg.Verifier, "verifier", "", "the verifier's URL, https://HOST:PORT")
	fs.StringVar(&cfg.HostID, "host-id", "", "the name to enrol as (default: the hostname)")
	fs.StringVar(&cfg.PullURL, "pull-url", "", "pull mode: the https URL at which the verifier reaches this agent")
	fs.StringVar(&cfg.NATS, "nats", "", "NATS mode: the NATS server, nats://HOST:4222, through which the verifier reaches this agent")
	fs.StringVar(&cfg.IMALog, "ima-log", "", "IMA measurement list (default: the kernel's)")
	fs.StringVar(&cfg.BootLog, "boot-log", "", "TCG boot event log (default: the kernel's)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if cfg.Verifier == "" || *caFile == "" {
		return cli.Usagef("enroll: --verifier and --ca are required")
	}
	if cfg.HostID == "" {
		h, err := os.Hostname()
		if err != nil {
			return err
		}
		cfg.HostID = h
	}
	if cfg.NATS != "" {
		if cfg.PullURL != "" {
			return cli.Usagef("enroll: --pull-url and --nats are two modes; give one")
		}
		cfg.PullURL = natsquote.URL(cfg.HostID)
	}
	pin, err := os.ReadFile(*caFile)
	if err != nil {
		return err
	}
	cfg.VerifierCert = string(pin)
	t, a, err := c.open(cfg)
	if err != nil {
		return err
	}
	defer t.Close()
	var pullDER []byte
	if cfg.PullURL != "" && cfg.NATS == "" {
		if pullDER, err = makePullCert(c.state, cfg.PullURL); err != nil {
			return err
		}
	}
	client, err := cfg.Client()
	if err != nil {
		return err
	}
	r, err := agentsvc.Enroll(ctx, a, client, cfg.HostID, *token, cfg.PullURL, pullDER)
	if err != nil {
		return err
	}
	if err := cfg.Save(c.state); err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(r)
	}
	fmt.Fprintf(stdout, "enrolled %s with %s; the AK is activated (%s)\n", r.HostID, cfg.Verifier, r.Activated.Format(time.RFC3339))
	return nil
}

// makePullCert makes the agent's pull-mode certificate for the pull
// URL's host, keeps it in the state directory and returns it in DER.
func makePullCert(state, pullURL string) ([]byte, error) {
	u, err := url.Parse(pullURL)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" {
		return nil, cli.Usagef("--pull-url %q: want https://HOST:PORT", pullURL)
	}
	certPEM, keyPEM, err := api.SelfSigned("tep-attest "+u.Hostname(), []string{u.Hostname()}, time.Now())
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(state, pullKeyFile), keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(state, pullCertFile), certPEM, 0o644); err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	return cert.Certificate[0], nil
}

func runServe(ctx context.Context, args []string, std cli.IO) error {
	stderr := std.Err
	var c common
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.register(fs)
	listen := fs.String("listen", ":9443", "address to serve the verifier's quote requests on")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	cfg, err := agentsvc.LoadConfig(c.state)
	if err != nil {
		return err
	}
	if cfg.PullURL == "" || cfg.NATS != "" {
		return errors.New("serve: this agent enrolled in push or NATS mode (no --pull-url); use tep-attest run")
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	cert, err := tls.LoadX509KeyPair(filepath.Join(c.state, pullCertFile), filepath.Join(c.state, pullKeyFile))
	if err != nil {
		return err
	}
	tlsCfg, err := agentsvc.PullTLS(cert, []byte(cfg.VerifierCert))
	if err != nil {
		return err
	}
	t, a, err := c.open(cfg)
	if err != nil {
		return err
	}
	defer t.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler: agentsvc.PullHandler(a, log), TLSConfig: tlsCfg,
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: time.Minute,
		IdleTimeout: time.Minute, MaxHeaderBytes: 8 << 10,
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	log.Info("serving quote requests", "addr", ln.Addr().String(), "host", cfg.HostID)
	if err := srv.ServeTLS(ln, "", ""); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func runPush(ctx context.Context, args []string, std cli.IO) error {
	stdout, stderr := std.Out, std.Err
	var c common
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.register(fs)
	interval := fs.Duration("interval", time.Minute, "time between attestations")
	once := fs.Bool("once", false, "attest once, print the report and exit")
	asJSON := fs.Bool("json", false, "with --once: print JSON")
	var nc natsquote.ConnConfig
	nc.Flags(fs)
	hostID := fs.String("host-id", "", "NATS mode: the host id this agent enrolled as (default: the enrolled one)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *interval < time.Second {
		return cli.Usagef("--interval: at least 1s")
	}
	cfg, err := agentsvc.LoadConfig(c.state)
	if err != nil {
		return err
	}
	if nc.URL != "" || cfg.NATS != "" {
		return runNATS(ctx, c, cfg, nc, *hostID, stderr)
	}
	client, err := cfg.Client()
	if err != nil {
		return err
	}
	t, a, err := c.open(cfg)
	if err != nil {
		return err
	}
	defer t.Close()
	if *once {
		r, err := agentsvc.Push(ctx, a, client, cfg.HostID)
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(stdout).Encode(r)
		}
		fmt.Fprintf(stdout, "report %s: trusted %v\n", r.ID, r.Trusted)
		return nil
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	log.Info("attesting", "host", cfg.HostID, "verifier", cfg.Verifier, "interval", interval.String())
	agentsvc.PushLoop(ctx, a, client, cfg.HostID, *interval, log)
	return nil
}
