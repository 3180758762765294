package swtpm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"tep.dev/tep/internal/tail"
)

const (
	// listenTimeout bounds the wait for a new swtpm's data channel.
	listenTimeout = 10 * time.Second
	// stopGrace is how long swtpm has to exit after SIGTERM, which lets
	// it write its state, before it is killed.
	stopGrace = 3 * time.Second
	// tcpTries is how many port pairs Start tries: another process may
	// take a pair between FreePortPair and swtpm's bind.
	tcpTries = 5
)

// Config says how to start an swtpm. State must be set; every other zero
// value picks the default.
type Config struct {
	// State is swtpm's state directory; Start creates it if it is missing.
	State string
	// TCP puts swtpm on loopback TCP ports (data P, control P+1) instead
	// of Unix sockets: TSS2's swtpm TCTI knows no other way.
	TCP bool
	// NeedInit leaves swtpm waiting for TPM_Init and TPM2_Startup, as a
	// chip is at power-on; by default it starts initialised and started
	// (--flags not-need-init,startup-clear).
	NeedInit bool
	// Log is a file that Start creates for swtpm's stdout and stderr;
	// empty discards them. The end of the output goes into Start's errors
	// either way.
	Log string
	// Nice is swtpm's nice value; 0 leaves this process's.
	Nice int
	// Manufacture, when set, runs swtpm_setup on a State that holds no
	// TPM yet, before swtpm starts: PCR banks, EK and certificates.
	Manufacture *Manufacture
}

// Process is a running swtpm.
type Process struct {
	// Spec names it for tpm.Open and tepd --tpm: "swtpm:unix:PATH" or
	// "swtpm:127.0.0.1:PORT".
	Spec string
	// Port is its TCP data port, 0 on Unix sockets.
	Port int
	// NiceErr says why Config.Nice could not be set (lowering a nice
	// value needs root or CAP_SYS_NICE); swtpm then runs at this
	// process's priority.
	NiceErr error

	cmd      *exec.Cmd
	done     chan struct{}
	sockDir  string
	out      *tail.Buffer
	log      *os.File // nil without Config.Log
	stopOnce sync.Once
}

// Start starts swtpm as cfg says and returns once its data channel
// accepts connections.
func Start(cfg Config) (*Process, error) {
	if cfg.State == "" {
		return nil, errors.New("starting swtpm: no state directory")
	}
	if err := os.MkdirAll(cfg.State, 0o700); err != nil {
		return nil, fmt.Errorf("starting swtpm: %w", err)
	}
	if cfg.Manufacture != nil {
		if _, err := os.Stat(filepath.Join(cfg.State, "tpm2-00.permall")); errors.Is(err, os.ErrNotExist) {
			if err := cfg.Manufacture.run(cfg.State); err != nil {
				return nil, err
			}
		}
	}
	if !cfg.TCP {
		// Not under State: a socket's path must fit in 108 bytes.
		dir, err := os.MkdirTemp("", "tep-swtpm")
		if err != nil {
			return nil, fmt.Errorf("starting swtpm: %w", err)
		}
		p, err := start(cfg, "swtpm:unix:"+filepath.Join(dir, "tpm.sock"))
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		p.sockDir = dir
		return p, nil
	}
	var lastErr error
	for range tcpTries {
		port, err := FreePortPair()
		if err != nil {
			return nil, fmt.Errorf("starting swtpm: %w", err)
		}
		p, err := start(cfg, "swtpm:"+net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			p.Port = port
			return p, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

// start runs swtpm at spec and waits until it listens.
func start(cfg Config, spec string) (*Process, error) {
	addr, err := ParseSpec(spec)
	if err != nil {
		return nil, err
	}
	args := append([]string{"socket", "--tpm2", "--tpmstate", "dir=" + cfg.State}, addr.Flags()...)
	if !cfg.NeedInit {
		args = append(args, "--flags", "not-need-init,startup-clear")
	}
	p := &Process{Spec: spec, done: make(chan struct{}), out: &tail.Buffer{}}
	p.cmd = exec.Command("swtpm", args...)
	var w io.Writer = p.out
	if cfg.Log != "" {
		if p.log, err = os.Create(cfg.Log); err != nil {
			return nil, fmt.Errorf("starting swtpm: %w", err)
		}
		w = io.MultiWriter(p.out, p.log)
	}
	p.cmd.Stdout, p.cmd.Stderr = w, w
	// A safety net for when this process dies without calling Stop.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := p.cmd.Start(); err != nil {
		p.closeLog()
		return nil, fmt.Errorf("starting swtpm: %w", err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	if cfg.Nice != 0 {
		if err := syscall.Setpriority(syscall.PRIO_PROCESS, p.cmd.Process.Pid, cfg.Nice); err != nil {
			p.NiceErr = fmt.Errorf("setting swtpm's nice value to %d: %w", cfg.Nice, err)
		}
	}
	if err := p.waitListen(addr); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

// waitListen waits until a's data channel accepts connections, for at
// most listenTimeout or until swtpm exits.
func (p *Process) waitListen(a Addr) error {
	deadline := time.Now().Add(listenTimeout)
	for {
		if c, err := net.DialTimeout(a.Network, a.Data, time.Second); err == nil {
			c.Close()
			// swtpm listens before it has loaded its state: only its
			// main loop, which it reaches with a working TPM, answers
			// the control channel.
			if err := probeCtrl(a); err != nil {
				select {
				case <-p.done:
					return fmt.Errorf("swtpm exited (%v): %s", p.cmd.ProcessState, p.out)
				case <-time.After(time.Second):
					return fmt.Errorf("swtpm listens on %s but does not answer: %v: %s", a.Data, err, p.out)
				}
			}
			return nil
		}
		if p.Exited() {
			return fmt.Errorf("swtpm exited (%v): %s", p.cmd.ProcessState, p.out)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("swtpm did not listen on %s within %v: %s", a.Data, listenTimeout, p.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cmdGetCapability is swtpm's control command CMD_GET_CAPABILITY; its
// answer is a 4-byte result and a 4-byte capability mask.
const cmdGetCapability = 1

// probeCtrl asks swtpm's control channel for its capabilities.
func probeCtrl(a Addr) error {
	c, err := net.DialTimeout(a.Network, a.Ctrl, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(listenTimeout))
	if _, err := c.Write(binary.BigEndian.AppendUint32(nil, cmdGetCapability)); err != nil {
		return err
	}
	var resp [8]byte
	if _, err := io.ReadFull(c, resp[:]); err != nil {
		return err
	}
	if rc := binary.BigEndian.Uint32(resp[:4]); rc != 0 {
		return fmt.Errorf("control channel answers %#x", rc)
	}
	return nil
}

// Pid is swtpm's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited says whether swtpm has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop ends swtpm with SIGTERM, then SIGKILL after stopGrace, waits for
// it, and removes its sockets.
func (p *Process) Stop() {
	p.stopOnce.Do(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(stopGrace):
			p.cmd.Process.Kill()
			<-p.done
		}
		if p.sockDir != "" {
			os.RemoveAll(p.sockDir)
		}
		// Wait has copied the last of the output.
		p.closeLog()
	})
}

func (p *Process) closeLog() {
	if p.log != nil {
		p.log.Close()
	}
}
