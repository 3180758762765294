package child

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// ErrStopped is returned by Restart and Kill after Stop.
var ErrStopped = errors.New("child: service stopped")

const (
	// pollInterval is how often StartService asks Ready.
	pollInterval = 20 * time.Millisecond
	// The defaults for a Spec's zero fields.
	defaultReadyTimeout = 30 * time.Second
	defaultStopGrace    = 10 * time.Second
)

// Spec says how to run a service: a server that tests and the bench
// start, crash, restart and stop.
type Spec struct {
	// Name is the program's name in errors ("postgres").
	Name string
	// Command makes the command to run, fresh for each start; it sets
	// SysProcAttr as the program needs (Pdeathsig, Credential, Setpgid).
	Command func() *exec.Cmd
	// Log is the file Start appends the output to; empty keeps only its
	// end in memory.
	Log string
	// Ready reports whether the started process p serves yet; it is
	// asked until it says so, the process exits or ReadyTimeout (30s
	// when 0) passes. Nil is ready at once.
	Ready        func(p *Process) bool
	ReadyTimeout time.Duration
	// StopSignal (SIGTERM when 0) asks the program to end; StopGrace
	// (10s when 0) is how long it gets before SIGKILL.
	StopSignal syscall.Signal
	StopGrace  time.Duration
}

// Service is a running child that can be killed and started again.
type Service struct {
	spec    Spec
	mu      sync.Mutex
	p       *Process // nil while down
	stopped bool
}

// StartService starts spec's program and returns once it is ready. A
// program that exits first or is not ready in time is killed, and the
// error carries the end of its output.
func StartService(spec Spec) (*Service, error) {
	if spec.Ready == nil {
		spec.Ready = func(*Process) bool { return true }
	}
	if spec.ReadyTimeout == 0 {
		spec.ReadyTimeout = defaultReadyTimeout
	}
	if spec.StopSignal == 0 {
		spec.StopSignal = syscall.SIGTERM
	}
	if spec.StopGrace == 0 {
		spec.StopGrace = defaultStopGrace
	}
	s := &Service{spec: spec}
	if err := s.start(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Service) start() error {
	p, err := Start(s.spec.Command(), s.spec.Log)
	if err != nil {
		return err
	}
	if err := s.waitReady(p); err != nil {
		p.Kill()
		return err
	}
	s.p = p
	return nil
}

func (s *Service) waitReady(p *Process) error {
	deadline := time.Now().Add(s.spec.ReadyTimeout)
	for !s.spec.Ready(p) {
		select {
		case <-p.Done:
			return fmt.Errorf("%s exited (%v): %s", s.spec.Name, p.Cmd.ProcessState, p.Out)
		case <-time.After(pollInterval):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready within %v: %s", s.spec.Name, s.spec.ReadyTimeout, p.Out)
		}
	}
	return nil
}

// Pid is the process id, 0 while the service is down.
func (s *Service) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p == nil {
		return 0
	}
	return s.p.Cmd.Process.Pid
}

// Kill ends the process with SIGKILL, as a crash would; the service
// stays down until Restart.
func (s *Service) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return ErrStopped
	}
	if s.p != nil {
		s.p.Kill()
		s.p = nil
	}
	return nil
}

// Restart stops the process if it runs and starts it again.
func (s *Service) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return ErrStopped
	}
	s.stop()
	if err := s.start(); err != nil {
		return fmt.Errorf("restarting %s: %w", s.spec.Name, err)
	}
	return nil
}

// Stop ends the process for good. It is safe to call more than once.
func (s *Service) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	s.stop()
}

func (s *Service) stop() {
	if s.p != nil {
		s.p.Stop(s.spec.StopSignal, s.spec.StopGrace)
		s.p = nil
	}
}

// Stop sends sig, waits up to grace for the process to exit, then kills
// it, and closes the log.
func (p *Process) Stop(sig os.Signal, grace time.Duration) {
	p.Cmd.Process.Signal(sig)
	select {
	case <-p.Done:
		p.Close()
	case <-time.After(grace):
		p.Kill()
	}
}

// Kill sends SIGKILL to the process, or to its whole process group when
// it leads one (SysProcAttr.Setpgid), waits for it and closes the log.
func (p *Process) Kill() {
	if a := p.Cmd.SysProcAttr; a != nil && a.Setpgid {
		syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
	} else {
		p.Cmd.Process.Kill()
	}
	<-p.Done
	p.Close()
}
