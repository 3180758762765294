package config

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The upload folder belongs to the update user, not root: whatever that
// user places in it in advance (links for applied/, rejected/, the record
// apply will write, or the blob itself; a FIFO) must not make apply read
// or write anything outside it, or hang.
func TestApplyUploadFolderLinks(t *testing.T) {
	r := newRig(t, dtpm)
	upload := filepath.Dir(r.opts.Blob)
	outside := t.TempDir()
	at := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	r.opts.Now = func() time.Time { return at }
	garbage := []byte("not a blob, from the update user\n")

	t.Run("rejected is a link out", func(t *testing.T) {
		victim := filepath.Join(outside, "dir")
		os.Mkdir(victim, 0o755)
		os.RemoveAll(filepath.Join(upload, "rejected"))
		if err := os.Symlink(victim, filepath.Join(upload, "rejected")); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(filepath.Join(upload, "rejected"))
		r.put(garbage)
		Apply(r.dev, r.opts)
		if names, _ := os.ReadDir(victim); len(names) != 0 {
			t.Errorf("apply wrote %v through the rejected/ link into %s", names, victim)
		}
	})

	t.Run("the record is a link out", func(t *testing.T) {
		victim := filepath.Join(outside, "shadow")
		os.WriteFile(victim, []byte("root:x:0:\n"), 0o600)
		rejected := filepath.Join(upload, "rejected")
		os.RemoveAll(rejected)
		os.Mkdir(rejected, 0o755)
		sum := sha256.Sum256(garbage)
		name := fmt.Sprintf("%s-epoch0-%x.json", at.Format("20060102T150405Z"), sum[:4])
		if err := os.Symlink(victim, filepath.Join(rejected, name)); err != nil {
			t.Fatal(err)
		}
		r.put(garbage)
		Apply(r.dev, r.opts)
		if b, _ := os.ReadFile(victim); string(b) != "root:x:0:\n" {
			t.Errorf("apply wrote its record through a link into %s: %q", victim, b)
		}
	})

	t.Run("the blob is a link out", func(t *testing.T) {
		secret := filepath.Join(outside, "secret")
		os.WriteFile(secret, []byte("s3cr3t key material: "+strings.Repeat("k", 64)), 0o600)
		os.Remove(r.opts.Blob)
		if err := os.Symlink(secret, r.opts.Blob); err != nil {
			t.Fatal(err)
		}
		res, err := Apply(r.dev, r.opts)
		if err == nil || !isStep(err, StepRead) {
			t.Fatalf("Apply(blob linked to %s) = %v, want a read step failure", secret, err)
		}
		if strings.Contains(err.Error(), "s3cr") || strings.Contains(res.Error, "s3cr") {
			t.Errorf("Apply read the file the blob links to: %v", err)
		}
	})

	t.Run("the blob is a FIFO", func(t *testing.T) {
		os.Remove(r.opts.Blob)
		if err := syscall.Mkfifo(r.opts.Blob, 0o600); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { _, err := Apply(r.dev, r.opts); done <- err }()
		select {
		case err := <-done:
			if !isStep(err, StepRead) {
				t.Errorf("Apply(FIFO) = %v, want a read step failure", err)
			}
		case <-time.After(30 * time.Second):
			// Apply is stuck opening the FIFO: let each open go, and fail.
			t.Error("Apply blocked opening a FIFO placed as the blob")
			for {
				if f, err := os.OpenFile(r.opts.Blob, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					f.Close()
				}
				select {
				case <-done:
					return
				case <-time.After(100 * time.Millisecond):
				}
			}
		}
		os.Remove(r.opts.Blob)
	})

	// After all of it, a good blob still applies and is recorded.
	os.RemoveAll(filepath.Join(upload, "rejected"))
	r.opts.Now = nil
	r.good()
}
