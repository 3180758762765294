package postgres

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"tep.dev/tep/internal/child"
)

const (
	// DefaultBin is where Debian 12 installs PostgreSQL 15's programs.
	DefaultBin = "/usr/lib/postgresql/15/bin"
	// port only names the socket file (.s.PGSQL.5432): there is no TCP.
	port = 5432
	// superuser is the role initdb makes; trust authentication lets any
	// local user connect as it, through a socket only this folder holds.
	superuser = "postgres"
	// readyTimeout bounds the wait for a starting server, which includes
	// crash recovery after Kill.
	readyTimeout = 30 * time.Second
	// stopGrace is how long a fast shutdown may take before SIGKILL.
	stopGrace = 10 * time.Second
	// maxSocketPath is the longest socket path Linux takes (sun_path).
	maxSocketPath = 107
)

// ErrStopped is returned by Restart and Kill after Stop.
var ErrStopped = child.ErrStopped

// Config says how to start a server. Its zero value works.
type Config struct {
	// Dir holds the data (Dir/data) and the socket. Empty makes a
	// temporary folder that Stop removes; a given Dir is kept, and when
	// it already holds data Start uses it instead of running initdb. As
	// root, every folder above Dir must let the postgres user through.
	Dir string
	// Bin is the folder of initdb and postgres; empty is DefaultBin.
	Bin string
	// Log is a file that Start creates for the server's output; empty
	// discards it. The end of the output goes into errors either way.
	Log string
	// Durable keeps fsync on, for the bench. Tests run without it: every
	// commit still reaches the kernel before it is acknowledged, so a
	// killed PostgreSQL loses no committed row; only a crashed machine
	// would.
	Durable bool
	// Settings are further server settings (postgres -c NAME=VALUE),
	// such as max_connections.
	Settings map[string]string
}

// Server is a running PostgreSQL.
type Server struct {
	// ConnString reaches the "postgres" database as the superuser, in
	// the URL form that pgx and the verifier's --db flag take.
	ConnString string
	// Dir is the server's folder, Config.Dir or the temporary one.
	Dir string

	cfg     Config
	cred    *syscall.Credential // nil when not root
	tempDir bool

	svc *child.Service
}

// Start runs initdb where Dir holds no data yet, then starts the server
// and returns once it accepts connections.
func Start(cfg Config) (*Server, error) {
	if cfg.Bin == "" {
		cfg.Bin = DefaultBin
	}
	s := &Server{cfg: cfg, Dir: cfg.Dir}
	if err := s.prepare(); err != nil {
		s.removeTemp()
		return nil, fmt.Errorf("starting postgres: %w", err)
	}
	if err := s.start(); err != nil {
		s.removeTemp()
		return nil, fmt.Errorf("starting postgres: %w", err)
	}
	return s, nil
}

// prepare makes the folder, hands it to the postgres user when root, and
// runs initdb unless it holds data already.
func (s *Server) prepare() error {
	if os.Geteuid() == 0 {
		u, err := user.Lookup(superuser)
		if err != nil {
			return fmt.Errorf("running as root needs the postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	if s.Dir == "" {
		d, err := os.MkdirTemp("", "tep-pg")
		if err != nil {
			return err
		}
		s.Dir, s.tempDir = d, true
	}
	if len(s.socketPath()) > maxSocketPath {
		return fmt.Errorf("socket path %q is longer than %d bytes", s.socketPath(), maxSocketPath)
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return err
	}
	if s.cred != nil {
		if err := os.Chown(s.Dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			return err
		}
	}
	s.ConnString = s.ConnStringDB(superuser)
	if _, err := os.Stat(filepath.Join(s.dataDir(), "PG_VERSION")); err == nil {
		return nil
	}
	return s.initdb()
}

// initdb makes a cluster in Dir/data with trust authentication: only the
// socket reaches it, and only who can enter Dir reaches the socket.
func (s *Server) initdb() error {
	args := []string{"-D", s.dataDir(), "-U", superuser, "--auth=trust",
		"-E", "UTF8", "--locale=C", "--no-instructions"}
	if !s.cfg.Durable {
		args = append(args, "--no-sync")
	}
	cmd := exec.Command(filepath.Join(s.cfg.Bin, "initdb"), args...)
	cmd.Dir = s.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGKILL}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %w: %s", err, lastLines(out))
	}
	return nil
}

// start runs the postmaster and waits until it is ready.
func (s *Server) start() error {
	args := s.args()
	svc, err := child.StartService(child.Spec{
		Name: "postgres",
		Command: func() *exec.Cmd {
			cmd := exec.Command(filepath.Join(s.cfg.Bin, "postgres"), args...)
			cmd.Dir = s.Dir
			// Setpgid puts the backends in the postmaster's group, so
			// Kill can end them all at once as a crash would.
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Setpgid: true, Pdeathsig: syscall.SIGKILL}
			return cmd
		},
		Log:          s.cfg.Log,
		Ready:        s.ready,
		ReadyTimeout: readyTimeout,
		// A fast shutdown: sessions are cut, committed work is written.
		StopSignal: syscall.SIGINT,
		StopGrace:  stopGrace,
	})
	if err != nil {
		return err
	}
	s.svc = svc
	return nil
}

// args is the postmaster's command line.
func (s *Server) args() []string {
	args := []string{"-D", s.dataDir(), "-k", s.Dir, "-p", strconv.Itoa(port),
		"-c", "listen_addresses="}
	if !s.cfg.Durable {
		// Not synchronous_commit=off: a commit must reach the kernel
		// before it is acknowledged, or Kill loses it.
		args = append(args, "-c", "fsync=off", "-c", "full_page_writes=off")
	}
	names := make([]string, 0, len(s.cfg.Settings))
	for k := range s.cfg.Settings {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		args = append(args, "-c", k+"="+s.cfg.Settings[k])
	}
	return args
}

// ready reads postmaster.pid for "ready", as pg_ctl does: the socket
// accepts connections before recovery has finished.
func (s *Server) ready(p *child.Process) bool {
	b, err := os.ReadFile(filepath.Join(s.dataDir(), "postmaster.pid"))
	if err != nil {
		return false
	}
	lines := strings.Split(string(b), "\n")
	// Line 1 is the postmaster's pid, line 8 its status.
	return len(lines) > 7 && strings.TrimSpace(lines[0]) == strconv.Itoa(p.Cmd.Process.Pid) &&
		strings.TrimSpace(lines[7]) == "ready"
}

// ConnStringDB is ConnString for the database name.
func (s *Server) ConnStringDB(name string) string {
	q := url.Values{"host": {s.Dir}, "port": {strconv.Itoa(port)}, "sslmode": {"disable"}}
	return (&url.URL{Scheme: "postgres", User: url.User(superuser), Path: "/" + name, RawQuery: q.Encode()}).String()
}

// Pid is the postmaster's process id, 0 while the server is down.
func (s *Server) Pid() int { return s.svc.Pid() }

// Kill ends the postmaster and its backends with SIGKILL, as a crash
// would, and waits for the postmaster. The data stays for Restart.
func (s *Server) Kill() error { return s.svc.Kill() }

// Restart stops the server (a fast shutdown) if it runs and starts it
// again on the same data and socket.
func (s *Server) Restart() error { return s.svc.Restart() }

// Stop ends the server with a fast shutdown (SIGINT), then SIGKILL after
// a grace time, and removes the folder if Start made it. It is safe to
// call more than once.
func (s *Server) Stop() {
	s.svc.Stop()
	s.removeTemp()
}

func (s *Server) removeTemp() {
	if s.tempDir {
		os.RemoveAll(s.Dir)
	}
}

func (s *Server) dataDir() string    { return filepath.Join(s.Dir, "data") }
func (s *Server) socketPath() string { return filepath.Join(s.Dir, ".s.PGSQL."+strconv.Itoa(port)) }

// lastLines keeps the end of a tool's output for an error message.
func lastLines(b []byte) string {
	const keep = 1024
	if len(b) > keep {
		b = b[len(b)-keep:]
	}
	return strings.TrimSpace(string(b))
}
