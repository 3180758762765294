package luks

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestProbes: blkid's verdicts and the mount point check that the
// mapping step relies on, on files and folders of the test's.
func TestProbes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	empty, ext4 := filepath.Join(dir, "empty.img"), filepath.Join(dir, "ext4.img")
	for _, args := range [][]string{{"truncate", "-s", "8M", empty}, {"truncate", "-s", "8M", ext4}, {"mkfs.ext4", "-q", "-F", ext4}} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	if none, err := noFilesystem(ctx, empty); err != nil || !none {
		t.Errorf("noFilesystem(zeros) = %v, %v; want true", none, err)
	}
	if none, err := noFilesystem(ctx, ext4); err != nil || none {
		t.Errorf("noFilesystem(ext4) = %v, %v; want false", none, err)
	}
	if what, err := (Cryptsetup{}).Content(ctx, ext4); err != nil || what != "ext4" {
		t.Errorf("Content(ext4) = %q, %v", what, err)
	}
	if _, err := noFilesystem(ctx, filepath.Join(dir, "missing")); err == nil {
		t.Error("noFilesystem(missing file) = nil error")
	}
	if _, err := (Cryptsetup{}).Content(ctx, filepath.Join(dir, "missing")); err == nil {
		t.Error("Content(missing file) = nil error")
	}
	if m, err := isMountPoint("/proc"); err != nil || !m {
		t.Errorf("isMountPoint(/proc) = %v, %v", m, err)
	}
	if m, err := isMountPoint(dir); err != nil || m {
		t.Errorf("isMountPoint(a temporary folder) = %v, %v", m, err)
	}
}
