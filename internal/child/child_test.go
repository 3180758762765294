package child

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestStart(t *testing.T) {
	log := filepath.Join(t.TempDir(), "out.log")
	os.WriteFile(log, []byte("before\n"), 0o600)
	p, err := Start(exec.Command("sh", "-c", "echo out; echo err >&2; exit 3"), log)
	if err != nil {
		t.Fatal(err)
	}
	<-p.Done
	p.Close()
	if code := p.Cmd.ProcessState.ExitCode(); code != 3 {
		t.Errorf("exit code %d, want 3", code)
	}
	if s := p.Out.String(); !strings.Contains(s, "out") || !strings.Contains(s, "err") {
		t.Errorf("kept output %q", s)
	}
	if b, _ := os.ReadFile(log); !strings.HasPrefix(string(b), "before\n") || !strings.Contains(string(b), "err") {
		t.Errorf("log file %q: want the output appended", b)
	}
	if _, err := Start(exec.Command("/nonexistent/program"), ""); err == nil {
		t.Error("a program that does not exist started")
	}
	if _, err := Start(exec.Command("true"), filepath.Join(t.TempDir(), "no", "dir", "log")); err == nil {
		t.Error("an unwritable log path was accepted")
	}
}
