package tepdproc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"tep.dev/tep/internal/lockfile"
	"tep.dev/tep/internal/tail"
)

const (
	// portsTimeout bounds the wait for tepd serve's ports.
	portsTimeout = 10 * time.Second
	// stopGrace is how long tepd has to exit after SIGTERM, which it
	// answers by closing its ports and its store, before it is killed.
	stopGrace = 10 * time.Second
	// stateLock is the PID file beside tepd's lock on its state
	// directory (cmd/tepd's stateLockName).
	stateLock = "tepd.lock"
	// keyPrefix starts the line of tepd init's output that holds the
	// channel key.
	keyPrefix = "TEP_SERVER_KEY="
)

// portNames are the pty links tepd serve --pty DIR makes in DIR, in the
// order it makes them.
var portNames = []string{"ttyS4", "ttyS5", "ttyS6", "ttyS7", "ttyS8", "ttyS9"}

// Config says which tepd to run on which token. Bin, State and TPM must be
// set.
type Config struct {
	// Bin is the tepd binary.
	Bin string
	// State is tepd's state directory; its ptys go in State/run.
	State string
	// TPM is the TPM spec, as tepd's --tpm takes it.
	TPM string
	// Label, SOPIN and UserPIN are the token's, for Init.
	Label, SOPIN, UserPIN string
	// InitArgs are more flags for tepd init, ServeArgs for tepd serve.
	InitArgs, ServeArgs []string
	// Output receives tepd serve's stdout and stderr; nil discards them.
	// The end of the output goes into Serve's errors either way.
	Output io.Writer
}

// Init runs tepd init and returns the channel key it printed for
// TEP_SERVER_KEY, or "" if it printed none.
func Init(cfg Config) (key string, err error) {
	args := append([]string{"init", "--state", cfg.State, "--tpm", cfg.TPM,
		"--label", cfg.Label, "--so-pin", cfg.SOPIN, "--user-pin", cfg.UserPIN}, cfg.InitArgs...)
	out, err := exec.Command(cfg.Bin, args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("tepd init: %w: %s", err, bytes.TrimSpace(out))
	}
	if _, k, ok := strings.Cut(string(out), keyPrefix); ok {
		key, _, _ = strings.Cut(k, "\n")
	}
	return strings.TrimSpace(key), nil
}

// Server is a running tepd serve.
type Server struct {
	// Ports are the links to the pty ends a guest opens, ttyS4 first.
	Ports []string

	cmd      *exec.Cmd
	done     chan struct{}
	out      *tail.Buffer
	stopOnce sync.Once
	stopErr  error
}

// Start runs Init, then Serve.
func Start(cfg Config) (srv *Server, key string, err error) {
	if key, err = Init(cfg); err != nil {
		return nil, "", err
	}
	srv, err = Serve(cfg)
	return srv, key, err
}

// Serve starts tepd serve on the token in cfg.State, its ptys in
// State/run, and returns once they all exist.
func Serve(cfg Config) (*Server, error) {
	run := filepath.Join(cfg.State, "run")
	s := &Server{done: make(chan struct{}), out: &tail.Buffer{}}
	for _, n := range portNames {
		s.Ports = append(s.Ports, filepath.Join(run, n))
	}
	// tepd makes the ptys in order, the last one meaning all of them, and
	// then its --listen sockets.
	socks := listenPaths(cfg.ServeArgs)
	wait := append([]string{s.Ports[len(s.Ports)-1]}, socks...)
	if err := removeStale(cfg.State, wait); err != nil {
		return nil, err
	}
	args := append([]string{"serve", "--state", cfg.State, "--tpm", cfg.TPM, "--pty", run}, cfg.ServeArgs...)
	s.cmd = exec.Command(cfg.Bin, args...)
	var w io.Writer = s.out
	if cfg.Output != nil {
		w = io.MultiWriter(s.out, cfg.Output)
	}
	s.cmd.Stdout, s.cmd.Stderr = w, w
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting tepd serve: %w", err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	for deadline := time.Now().Add(portsTimeout); ; time.Sleep(10 * time.Millisecond) {
		if allExist(wait) && allListening(socks) {
			return s, nil
		}
		if s.Exited() {
			return nil, fmt.Errorf("tepd serve exited (%v): %s", s.cmd.ProcessState, s.out)
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("tepd serve made no %s within %v: %s", strings.Join(wait, ", "), portsTimeout, s.out)
		}
	}
}

// listenPaths returns the socket paths of the --listen unix:PATH
// arguments in args.
func listenPaths(args []string) []string {
	var paths []string
	for i, a := range args {
		v, ok := strings.CutPrefix(a, "--listen=")
		if !ok && a == "--listen" && i+1 < len(args) {
			v, ok = args[i+1], true
		}
		if p, unix := strings.CutPrefix(v, "unix:"); ok && unix {
			paths = append(paths, p)
		}
	}
	return paths
}

func allExist(paths []string) bool {
	for _, p := range paths {
		if _, err := os.Lstat(p); err != nil {
			return false
		}
	}
	return true
}

// allListening says whether every unix socket in paths is listening: a
// socket's file exists from bind(2), but until listen(2) a connect is
// refused. It reads /proc/net/unix rather than connecting, which tepd
// would count as a client.
func allListening(paths []string) bool {
	if len(paths) == 0 {
		return true
	}
	b, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		return false
	}
	listening := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		// Num RefCount Protocol Flags Type St Inode Path
		f := strings.Fields(line)
		if len(f) == 8 && f[3] == soAcceptCon {
			listening[f[7]] = true
		}
	}
	for _, p := range paths {
		if !listening[p] {
			return false
		}
	}
	return true
}

// soAcceptCon is the Flags column of a listening socket in /proc/net/unix
// (__SO_ACCEPTCON).
const soAcceptCon = "00010000"

// removeStale removes paths, the last pty link and the sockets of state,
// once it knows that no tepd holds state: those left by a tepd that was
// killed would end Serve's wait before the new tepd has made its own. A
// state that a tepd holds is an error: that tepd's ports would end the
// wait at once, and the new tepd would refuse the state anyway.
func removeStale(state string, paths []string) error {
	l, err := lockfile.AcquireDir(state, stateLock)
	if err != nil {
		return fmt.Errorf("tepd serve: %w", err)
	}
	for _, p := range paths {
		os.Remove(p)
	}
	l.Release()
	return nil
}

// Pid is tepd's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Done is closed when tepd has ended, however it ended.
func (s *Server) Done() <-chan struct{} { return s.done }

// Exited says whether tepd has ended.
func (s *Server) Exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// Stop ends tepd with SIGTERM, as a service manager would, and waits for
// it; SIGKILL after stopGrace. It returns an error if tepd did not exit
// cleanly.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
			if !s.cmd.ProcessState.Success() {
				s.stopErr = fmt.Errorf("tepd exited with %v: %s", s.cmd.ProcessState, s.out)
			}
		case <-time.After(stopGrace):
			s.cmd.Process.Kill()
			<-s.done
			s.stopErr = errors.New("tepd did not stop within " + stopGrace.String() + " of SIGTERM")
		}
	})
	return s.stopErr
}
