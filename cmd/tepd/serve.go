package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"tep.dev/tep/internal/cli"
	"tep.dev/tep/link"
	"tep.dev/tep/profile"
	"tep.dev/tep/server"
)

// serveConfig holds tepd serve's settings; a --config file (JSON) carries
// the same keys, and flags given on the command line win.
type serveConfig struct {
	State    string   `json:"state"`
	TPM      string   `json:"tpm"`
	PTY      string   `json:"pty"`
	Ports    []string `json:"ports"`
	Listen   []string `json:"listen"`
	Baud     int      `json:"baud"`
	Lease    string   `json:"lease"`
	LogLevel string   `json:"log_level"`
	// CPUProfile names a file for a pprof CPU profile of the whole run.
	CPUProfile string `json:"cpu_profile"`
	// Spin is how long a pty's read keeps looking for the next request
	// before it sleeps (link.SpinFile); "0" never spins.
	Spin string `json:"spin"`
	// AllowTokenInit offers guests a free slot to make tokens on
	// (server.Config.AllowTokenInit); off by default.
	AllowTokenInit bool `json:"allow_token_init"`
	// Limits bound what clients can make tepd hold, by name (limits.go);
	// --limit NAME=VALUE flags add to them and win.
	Limits map[string]string `json:"limits"`
	// limitFlags are the --limit flags, applied over Limits.
	limitFlags []string
	limits     server.Limits
}

// memoryLimit is tepd's soft memory limit (runtime/debug.SetMemoryLimit)
// unless GOMEMLIMIT sets another.
const memoryLimit = 160 << 20

// defaultSpin covers a client's own work between two calls in a loop.
const defaultSpin = "200µs"

// ptyNames are the ports a guest sees, /dev/ttyS4 … /dev/ttyS9.
var ptyNames = []string{"ttyS4", "ttyS5", "ttyS6", "ttyS7", "ttyS8", "ttyS9"}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func parseServe(args []string, stderr io.Writer) (serveConfig, error) {
	var flags serveConfig
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgFile := fs.String("config", "", "JSON file with the same settings; flags win")
	fs.StringVar(&flags.State, "state", "", "state directory")
	fs.StringVar(&flags.TPM, "tpm", "", "TPM: sim, swtpm:HOST:PORT, swtpm:unix:PATH or a device path")
	fs.StringVar(&flags.PTY, "pty", "", "create pty pairs with symlinks DIR/ttyS4 … DIR/ttyS9")
	fs.Var((*listFlag)(&flags.Ports), "port", "serial device to serve (repeatable)")
	fs.Var((*listFlag)(&flags.Listen), "listen", "unix:PATH socket to serve (repeatable)")
	fs.IntVar(&flags.Baud, "baud", 115200, "baud rate of serial devices")
	fs.StringVar(&flags.Lease, "lease", "", "silence after which a client's state is dropped (default 1m)")
	fs.StringVar(&flags.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&flags.CPUProfile, "cpuprofile", "", "write a pprof CPU profile of the run to `FILE`")
	fs.StringVar(&flags.Spin, "spin", defaultSpin, "how long a pty's read looks for the next request before it sleeps; 0: never")
	fs.BoolVar(&flags.AllowTokenInit, "allow-token-init", false, "offer guests a free slot on which C_InitToken makes a token (hands the TPM's shared PIN budget to anyone on the ports)")
	fs.Var((*listFlag)(&flags.limitFlags), "limit", "`NAME=VALUE` of a limit on what clients can make tepd hold (repeatable; README.md lists them)")
	if err := fs.Parse(args); err != nil {
		return flags, err
	}
	cfg := serveConfig{Baud: 115200, LogLevel: "info", Spin: defaultSpin}
	if *cfgFile != "" {
		b, err := os.ReadFile(*cfgFile)
		if err != nil {
			return cfg, err
		}
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cfg); err != nil {
			return cfg, fmt.Errorf("reading %s: %w", *cfgFile, err)
		}
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "state":
			cfg.State = flags.State
		case "tpm":
			cfg.TPM = flags.TPM
		case "pty":
			cfg.PTY = flags.PTY
		case "port":
			cfg.Ports = flags.Ports
		case "listen":
			cfg.Listen = flags.Listen
		case "baud":
			cfg.Baud = flags.Baud
		case "lease":
			cfg.Lease = flags.Lease
		case "log-level":
			cfg.LogLevel = flags.LogLevel
		case "cpuprofile":
			cfg.CPUProfile = flags.CPUProfile
		case "spin":
			cfg.Spin = flags.Spin
		case "allow-token-init":
			cfg.AllowTokenInit = flags.AllowTokenInit
		}
	})
	var err error
	if cfg.limits, err = parseLimits(cfg.Limits, flags.limitFlags); err != nil {
		return cfg, err
	}
	if cfg.State == "" || cfg.TPM == "" {
		return cfg, errors.New("serve needs --state and --tpm")
	}
	if cfg.PTY == "" && len(cfg.Ports) == 0 && len(cfg.Listen) == 0 {
		return cfg, errors.New("serve needs something to serve: --pty, --port or --listen")
	}
	if d, err := time.ParseDuration(cfg.Spin); err != nil || d < 0 {
		return cfg, fmt.Errorf("spin %q: want a duration such as 200µs, or 0", cfg.Spin)
	}
	return cfg, nil
}

func runServe(ctx context.Context, args []string, std cli.IO) error {
	stderr := std.Err
	cfg, err := parseServe(args, stderr)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return fmt.Errorf("log level %q: %w", cfg.LogLevel, err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	var lease time.Duration
	if cfg.Lease != "" {
		if lease, err = time.ParseDuration(cfg.Lease); err != nil {
			return fmt.Errorf("lease %q: %w", cfg.Lease, err)
		}
	}
	if cfg.CPUProfile != "" {
		stop, err := profile.Start(cfg.CPUProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// Past this the collector works harder rather than let garbage
		// (a large call's copies) push the resident memory up; what
		// clients can make tepd hold is bounded below it (server.Limits).
		debug.SetMemoryLimit(memoryLimit)
	}
	b, err := openBackends(cfg.State, cfg.TPM)
	if err != nil {
		return err
	}
	defer b.Close()
	if b.tpm.Insecure() {
		log.Warn("using the embedded TPM simulator: keys are NOT protected; for development only")
	}
	key, created, err := channelKey(b.tpm, cfg.State)
	if err != nil {
		return err
	}
	if created {
		log.Warn("made a channel key for this state directory, which had none: pin it on the guests", "TEP_SERVER_KEY", key.Public().String())
	}
	log.Info("channel key", "public_key", key.Public().String(), "fingerprint", key.Public().Fingerprint())
	srv, err := server.New(b.tpm, b.store, server.Config{Lease: lease, Log: log, Key: key, Limits: cfg.limits, AllowTokenInit: cfg.AllowTokenInit})
	if err != nil {
		return err
	}
	defer srv.Close()
	return servePorts(ctx, srv, cfg, log)
}

// servePorts opens every configured port and serves them until ctx ends.
func servePorts(ctx context.Context, srv *server.Server, cfg serveConfig, log *slog.Logger) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	serve := func(name string, fn func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(); err != nil && ctx.Err() == nil {
				errs <- fmt.Errorf("serving %s: %w", name, err)
				cancel()
			}
		}()
	}
	if cfg.PTY != "" {
		spin, _ := time.ParseDuration(cfg.Spin) // checked by parseServe
		for _, n := range ptyNames {
			p, err := link.NewPTY(filepath.Join(cfg.PTY, n))
			if err != nil {
				cancel()
				wg.Wait()
				return err
			}
			defer p.Close()
			st, err := link.NewSpinFile(p.Master, spin)
			if err != nil {
				cancel()
				wg.Wait()
				return err
			}
			serve(p.Path, func() error { return srv.ServeStream(ctx, st, p.Path) })
			log.Info("serving pty", "path", p.Path, "device", p.Slave)
		}
	}
	for _, dev := range cfg.Ports {
		st, err := link.OpenSerial(dev, cfg.Baud)
		if err != nil {
			cancel()
			wg.Wait()
			return err
		}
		defer st.Close()
		serve(dev, func() error { return srv.ServeStream(ctx, st, dev) })
		log.Info("serving serial port", "device", dev, "baud", cfg.Baud)
	}
	for _, addr := range cfg.Listen {
		path, ok := strings.CutPrefix(addr, "unix:")
		if !ok {
			cancel()
			wg.Wait()
			return fmt.Errorf("listen address %q: want unix:PATH", addr)
		}
		l, err := link.ListenUnix(path)
		if err != nil {
			cancel()
			wg.Wait()
			return err
		}
		defer l.Close()
		serve(addr, func() error { return srv.ServeUnix(ctx, l.UnixListener) })
		log.Info("serving unix socket", "path", path)
	}
	notify(log, "READY=1")
	<-ctx.Done()
	notify(log, "STOPPING=1")
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		log.Info("shut down")
		return nil
	}
}
