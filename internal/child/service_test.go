package child

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// shSpec runs script under sh, ready once the file ready exists.
func shSpec(script, ready string) Spec {
	return Spec{
		Name: "sh",
		Command: func() *exec.Cmd {
			os.Remove(ready) // each start must say it is ready anew
			return exec.Command("sh", "-c", script)
		},
		Ready: func(*Process) bool {
			_, err := os.Stat(ready)
			return err == nil
		},
		StopGrace: 200 * time.Millisecond,
	}
}

// gone reports whether pid has exited (a zombie that no one reaps has).
func gone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] == "Z"
}

// TestServiceLifecycle starts a service, restarts it, kills it, starts it
// again and stops it, checking the process each time.
func TestServiceLifecycle(t *testing.T) {
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready")
	log := filepath.Join(dir, "log")
	spec := shSpec("echo started; touch "+ready+"; exec sleep 60", ready)
	spec.Log = log
	s, err := StartService(spec)
	if err != nil {
		t.Fatal(err)
	}
	first := s.Pid()
	if first == 0 || gone(first) {
		t.Fatalf("Pid() = %d after start, want a running process", first)
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if second := s.Pid(); second == first || second == 0 || !gone(first) {
		t.Errorf("Restart: pid %d (was %d, gone %v), want a new process and the old one ended", second, first, gone(first))
	}
	killed := s.Pid()
	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	if s.Pid() != 0 || !gone(killed) {
		t.Errorf("after Kill: Pid() = %d, process %d gone %v; want 0 and gone", s.Pid(), killed, gone(killed))
	}
	if err := s.Restart(); err != nil {
		t.Fatalf("Restart after Kill: %v", err)
	}
	last := s.Pid()
	s.Stop()
	s.Stop()
	if !gone(last) || s.Pid() != 0 {
		t.Errorf("after Stop: process %d gone %v, Pid() = %d", last, gone(last), s.Pid())
	}
	if err := s.Restart(); !errors.Is(err, ErrStopped) {
		t.Errorf("Restart after Stop = %v, want ErrStopped", err)
	}
	if err := s.Kill(); !errors.Is(err, ErrStopped) {
		t.Errorf("Kill after Stop = %v, want ErrStopped", err)
	}
	if b, _ := os.ReadFile(log); strings.Count(string(b), "started") != 3 {
		t.Errorf("log %q, want three starts appended", b)
	}
}

// TestServiceStopKillsTheStubborn checks that a program that ignores
// the stop signal is killed after the grace time.
func TestServiceStopKillsTheStubborn(t *testing.T) {
	ready := filepath.Join(t.TempDir(), "ready")
	s, err := StartService(shSpec("trap '' TERM; touch "+ready+"; while :; do sleep 1; done", ready))
	if err != nil {
		t.Fatal(err)
	}
	pid := s.Pid()
	s.Stop()
	if !gone(pid) {
		t.Errorf("process %d survived Stop", pid)
	}
}

// TestServiceKillsTheGroup checks that Kill ends the process group of a
// program that leads one, as a crash of a server and its workers would.
func TestServiceKillsTheGroup(t *testing.T) {
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready")
	spec := shSpec("sleep 60 & echo $! > "+ready+".tmp; mv "+ready+".tmp "+ready+"; wait", ready)
	command := spec.Command
	spec.Command = func() *exec.Cmd {
		cmd := command()
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		return cmd
	}
	s, err := StartService(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	b, err := os.ReadFile(ready)
	if err != nil {
		t.Fatal(err)
	}
	worker, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	// The signal reaches the group at once, but the orphan's end is not
	// waited for: give it a moment.
	for deadline := time.Now().Add(5 * time.Second); !gone(worker) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if !gone(worker) {
		syscall.Kill(worker, syscall.SIGKILL)
		t.Errorf("the group's other process %d survived Kill", worker)
	}
}

// TestServiceStartFails checks that a program that exits, or is not
// ready in time, is an error carrying its output, and leaves nothing
// running.
func TestServiceStartFails(t *testing.T) {
	never := filepath.Join(t.TempDir(), "never")
	_, err := StartService(shSpec("echo cannot start; exit 1", never))
	if err == nil || !strings.Contains(err.Error(), "exited") || !strings.Contains(err.Error(), "cannot start") {
		t.Errorf("StartService of a program that exits = %v, want its exit and output", err)
	}
	var cmd *exec.Cmd
	spec := shSpec("echo waiting; exec sleep 60", never)
	command := spec.Command
	spec.Command = func() *exec.Cmd { cmd = command(); return cmd }
	spec.ReadyTimeout = 100 * time.Millisecond
	_, err = StartService(spec)
	if err == nil || !strings.Contains(err.Error(), "not ready") || !strings.Contains(err.Error(), "waiting") {
		t.Errorf("StartService of a program never ready = %v, want a timeout with its output", err)
	}
	if cmd == nil || cmd.ProcessState == nil {
		t.Error("the program that was never ready still runs")
	}
	spec = shSpec("", never)
	spec.Command = func() *exec.Cmd { return exec.Command(filepath.Join(t.TempDir(), "missing")) }
	if _, err := StartService(spec); err == nil {
		t.Error("StartService of a missing program succeeded")
	}
}
