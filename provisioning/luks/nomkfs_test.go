package luks

import (
	"context"
	"crypto/elliptic"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fileMapper stands in for device-mapper, which these machines lack: Open
// "maps" the volume as an empty file in the rig's mapper folder, as a
// volume whose filesystem was damaged (or whose first blocks someone
// overwrote) looks once opened.
type fileMapper struct{ Cryptsetup }

func (fileMapper) Open(_ context.Context, _, name string, _ []byte) error {
	f, err := os.Create(filepath.Join(mapperDir, name))
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Truncate(16 << 20)
}

// Unlock never formats: an opened volume on which blkid finds no
// filesystem is reported, not given a new one by mkfs.ext4, which would
// destroy what fsck or a backup superblock could still recover.
func TestUnlockNeverMakesAFilesystem(t *testing.T) {
	r := newRig(t, elliptic.P256())
	// A mount point of the test's, in case a mkfs'd file gets mounted
	// (mount sets up a loop device for a file).
	c, err := Sign(SignOptions{Values: r.values("sha256"), Signer: r.key, Device: r.image, Epoch: 1,
		Mount: t.TempDir(), Cryptsetup: FormatOptions{PBKDF: "pbkdf2", PBKDFForceIterations: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if ok, _ := isMountPoint(c.Mount); ok {
			exec.Command("umount", c.Mount).Run()
		}
	})
	ctx := context.Background()
	if _, err := r.dev.Setup(ctx, c, SetupOptions{}); err != nil {
		t.Fatalf("Setup: %v\n%s", err, r.log.String())
	}
	old := mapperDir
	mapperDir = t.TempDir()
	t.Cleanup(func() { mapperDir = old })
	r.dev.Volume = fileMapper{}
	r.dev.Mapping = func() bool { return true }
	_, err = r.dev.Unlock(ctx, c)
	mapped := filepath.Join(mapperDir, DefaultMapping)
	if out, _ := exec.Command("blkid", "-p", "-o", "value", "-s", "TYPE", mapped).Output(); strings.TrimSpace(string(out)) != "" {
		t.Errorf("Unlock made a %s filesystem on the opened volume", strings.TrimSpace(string(out)))
	}
	if err == nil || !strings.Contains(err.Error(), "no filesystem") {
		t.Errorf("Unlock(volume with no filesystem) = %v, want an error that says so", err)
	}
}
