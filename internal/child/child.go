// Package child starts the helper processes that tests and the bench run
// beside TEP (PostgreSQL, nats-server) with their output kept: its end in
// memory, for the error that says why a process did not come up, and all
// of it appended to a log file when one is named.
//
// A [Service] is such a child with a lifecycle: started and waited for
// until it is ready (its output's end in the error when it is not),
// stopped with a signal and then SIGKILL after a grace time, killed as a
// crash would, and started again. It is the one home of that lifecycle
// for the launchers of PostgreSQL (internal/postgres) and nats-server
// (internal/natsd), which keep only what is theirs: the command line,
// the configuration and how to tell that the server is ready.
//
// Lifetime: a child runs until it is stopped or killed; callers set
// Pdeathsig so that it also ends with this process. The methods of a
// Service are safe for concurrent use; a Process is the caller's alone.
package child

import (
	"io"
	"os"
	"os/exec"

	"tep.dev/tep/internal/tail"
)

// Process is a started child.
type Process struct {
	Cmd *exec.Cmd
	// Out holds the end of its stdout and stderr.
	Out *tail.Buffer
	// Done is closed once it has exited and its output is copied.
	Done <-chan struct{}
	log  *os.File
}

// Start starts cmd, whose Stdout and Stderr it sets, appending them to
// logPath too when that is not empty.
func Start(cmd *exec.Cmd, logPath string) (*Process, error) {
	p := &Process{Cmd: cmd, Out: &tail.Buffer{}}
	var w io.Writer = p.Out
	if logPath != "" {
		f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, err
		}
		p.log, w = f, io.MultiWriter(p.Out, f)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		p.Close()
		return nil, err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	p.Done = done
	return p, nil
}

// Close closes the log file; call it once Done is closed.
func (p *Process) Close() {
	if p.log != nil {
		p.log.Close()
		p.log = nil
	}
}
