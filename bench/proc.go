package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// stopGrace is how long a child has to exit after SIGTERM before it is
// killed.
const stopGrace = 3 * time.Second

// proc is a child process. stop ends it with SIGTERM, then SIGKILL after
// stopGrace, and waits for it; it is safe to call more than once.
type proc struct {
	name   string
	cmd    *exec.Cmd
	cancel context.CancelFunc
	done   chan struct{}
	log    string // file holding its stdout and stderr
}

// startProc starts name with args; env nil means this process's
// environment. Its output goes to the file log.
func startProc(log string, env []string, name string, args ...string) (*proc, error) {
	return startProcIO(log, env, nil, nil, name, args...)
}

// startProcIO is startProc with the child's stdin and stdout given: nil
// stdin is /dev/null, nil stdout the file log, which always takes stderr.
func startProcIO(log string, env []string, stdin, stdout *os.File, name string, args ...string) (*proc, error) {
	logf, err := os.Create(log)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child holds its own copy
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = stopGrace
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	if stdin != nil {
		cmd.Stdin = stdin
	}
	if stdout != nil {
		cmd.Stdout = stdout
	}
	// A safety net for when this process dies without running its
	// deferred stops. Go never ends the thread that started the child
	// unless a goroutine locked to it exits, which nothing here does.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("starting %s: %w", filepath.Base(name), err)
	}
	p := &proc{name: filepath.Base(name), cmd: cmd, cancel: cancel, done: make(chan struct{}), log: log}
	go func() { cmd.Wait(); close(p.done) }()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) stop() {
	p.cancel()
	<-p.done
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// failure describes why p did not come up: its exit status, if it has
// ended, and the end of its output.
func (p *proc) failure(what string) error {
	b, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	tail := strings.Join(lines[max(0, len(lines)-3):], " | ")
	if p.exited() {
		return fmt.Errorf("%s: %s exited (%v): %s", what, p.name, p.cmd.ProcessState, tail)
	}
	return fmt.Errorf("%s: %s is still running; its output: %s", what, p.name, tail)
}

// waitPath waits until path exists, for at most timeout or until p exits.
func waitPath(p *proc, path string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Lstat(path); err == nil {
			return nil
		}
		if p.exited() || time.Now().After(deadline) {
			return p.failure("waiting for " + path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// endOrphan waits for process pid, a grandchild whose parent is gone, to
// exit, and ends it (SIGTERM, then SIGKILL) if it does not within
// stopGrace. name, the start of its command line, guards against a reused
// pid.
func endOrphan(pid int, name string) {
	alive := func() bool {
		cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		return err == nil && bytes.HasPrefix(cmd, []byte(name)) // a zombie's is empty
	}
	wait := func(d time.Duration) bool {
		for deadline := time.Now().Add(d); alive(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				return false
			}
		}
		return true
	}
	if wait(stopGrace) {
		return
	}
	syscall.Kill(pid, syscall.SIGTERM)
	if !wait(time.Second) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// vmRSS returns the resident set size of process pid in KiB.
func vmRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// openFiles returns what the descriptors of process pid point at.
func openFiles(pid int) ([]string, error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if t, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil {
			out = append(out, t)
		}
	}
	return out, nil
}

// children returns the ids of the child processes of pid.
func children(pid int) ([]int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return nil, err
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// runTool runs a set-up command to completion and returns the end of its
// output in the error if it fails.
func runTool(env []string, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			// The last lines: a Python tool's (tpm2_ptool's) traceback
			// ends with what went wrong.
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			tail := strings.Join(lines[max(0, len(lines)-3):], " | ")
			return fmt.Errorf("%s %s: %v: %s", filepath.Base(name), args[0], err, tail)
		}
		return fmt.Errorf("%s: %w", filepath.Base(name), err)
	}
	return nil
}
