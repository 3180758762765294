package natsd

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"tep.dev/tep/internal/child"
)

const (
	// readyTimeout bounds the wait for a starting server's INFO line.
	readyTimeout = 10 * time.Second
	// stopGrace is how long nats-server has to exit after SIGTERM.
	stopGrace = 5 * time.Second
	// portTries is how many free ports Start tries: another process may
	// take one between the probe and nats-server's bind.
	portTries = 5
)

// ErrStopped is returned by Restart after Stop.
var ErrStopped = child.ErrStopped

// Config says how to start a nats-server. Its zero value works: no TLS,
// no authentication.
type Config struct {
	// Bin is the nats-server program; empty finds it in PATH.
	Bin string
	// Log is a file that Start creates for the server's output; empty
	// discards it. The end of the output goes into errors either way.
	Log string
	// TLS, when set, makes clients speak TLS (nats-server's tls block).
	TLS *TLS
	// Users may connect with a user name and password; NKeys with the
	// seed of one of these public user keys ("U..."). With neither, any
	// client may connect.
	Users []User
	NKeys []string
	// MaxPayload is the largest message in bytes; 0 is the server's
	// default (1 MiB).
	MaxPayload int
}

// TLS names the server's certificate and key files (PEM). With CAFile
// the server also asks clients for certificates and checks them.
type TLS struct {
	CertFile, KeyFile string
	CAFile            string
}

// User is a user name and its password, in clear.
type User struct {
	Name, Password string
}

// Server is a running nats-server.
type Server struct {
	// URL reaches it: nats://127.0.0.1:PORT, or tls://127.0.0.1:PORT
	// with TLS.
	URL  string
	Port int

	cfg Config
	dir string // holds the configuration file
	svc *child.Service
}

// Start writes a configuration for cfg and runs nats-server on a free
// loopback port, returning once it greets a client.
func Start(cfg Config) (*Server, error) {
	if cfg.Bin == "" {
		cfg.Bin = "nats-server"
	}
	dir, err := os.MkdirTemp("", "tep-nats")
	if err != nil {
		return nil, fmt.Errorf("starting nats-server: %w", err)
	}
	s := &Server{cfg: cfg, dir: dir}
	var lastErr error
	for range portTries {
		if s.Port, err = freePort(); err != nil {
			lastErr = err
			break
		}
		if lastErr = s.start(); lastErr == nil {
			scheme := "nats"
			if cfg.TLS != nil {
				scheme = "tls"
			}
			s.URL = scheme + "://" + s.addr()
			return s, nil
		}
	}
	os.RemoveAll(dir)
	return nil, fmt.Errorf("starting nats-server: %w", lastErr)
}

// conf renders the server's configuration file.
func (s *Server) conf() string {
	var b strings.Builder
	fmt.Fprintf(&b, "listen: %s\n", strconv.Quote(s.addr()))
	if s.cfg.MaxPayload > 0 {
		fmt.Fprintf(&b, "max_payload: %d\n", s.cfg.MaxPayload)
	}
	if t := s.cfg.TLS; t != nil {
		fmt.Fprintf(&b, "tls {\n  cert_file: %s\n  key_file: %s\n", strconv.Quote(t.CertFile), strconv.Quote(t.KeyFile))
		if t.CAFile != "" {
			fmt.Fprintf(&b, "  ca_file: %s\n  verify: true\n", strconv.Quote(t.CAFile))
		}
		b.WriteString("}\n")
	}
	if len(s.cfg.Users) > 0 || len(s.cfg.NKeys) > 0 {
		b.WriteString("authorization {\n  users: [\n")
		for _, u := range s.cfg.Users {
			fmt.Fprintf(&b, "    {user: %s, password: %s}\n", strconv.Quote(u.Name), strconv.Quote(u.Password))
		}
		for _, k := range s.cfg.NKeys {
			fmt.Fprintf(&b, "    {nkey: %s}\n", strconv.Quote(k))
		}
		b.WriteString("  ]\n}\n")
	}
	return b.String()
}

// start writes the configuration, runs nats-server and waits until it
// greets a client.
func (s *Server) start() error {
	conf := filepath.Join(s.dir, "nats.conf")
	if err := os.WriteFile(conf, []byte(s.conf()), 0o600); err != nil {
		return err
	}
	svc, err := child.StartService(child.Spec{
		Name: "nats-server",
		Command: func() *exec.Cmd {
			cmd := exec.Command(s.cfg.Bin, "-c", conf)
			cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
			return cmd
		},
		Log:          s.cfg.Log,
		Ready:        func(*child.Process) bool { return greets(s.addr()) },
		ReadyTimeout: readyTimeout,
		StopSignal:   syscall.SIGTERM,
		StopGrace:    stopGrace,
	})
	if err != nil {
		return err
	}
	s.svc = svc
	return nil
}

// greets dials addr and reads the server's INFO line, which it sends
// before any TLS handshake.
func greets(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "INFO ")
}

// Pid is nats-server's process id, 0 while it is down.
func (s *Server) Pid() int { return s.svc.Pid() }

// Restart stops the server and starts it again on the same port, with
// the same configuration. Clients see their connection drop and
// reconnect to the same URL.
func (s *Server) Restart() error { return s.svc.Restart() }

// Stop ends nats-server with SIGTERM, then SIGKILL after a grace time,
// and removes its configuration. It is safe to call more than once.
func (s *Server) Stop() {
	s.svc.Stop()
	os.RemoveAll(s.dir)
}

func (s *Server) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
