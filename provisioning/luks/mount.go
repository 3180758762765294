package luks

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// mapperDir is where device-mapper puts opened volumes; tests move it.
var mapperDir = "/dev/mapper"

// mapAndMount opens the volume at /dev/mapper/NAME unless it is open,
// makes the configured filesystem on it if it holds none and mkfs is set
// (setup, on the volume it formatted), and mounts it unless something is
// mounted there already. Without mkfs a volume with no filesystem is an
// error: unlock never formats, and a damaged filesystem is fsck's.
func mapAndMount(ctx context.Context, v Volume, c *Config, pass []byte, mkfs bool) error {
	mapped := filepath.Join(mapperDir, c.Mapping)
	if _, err := os.Stat(mapped); errors.Is(err, os.ErrNotExist) {
		if err := v.Open(ctx, c.Device, c.Mapping, pass); err != nil {
			return err
		}
	}
	if c.Filesystem == "ext4" {
		empty, err := noFilesystem(ctx, mapped)
		if err != nil {
			return err
		}
		if empty && !mkfs {
			return fmt.Errorf("%s (%s opened) has no filesystem: tep-luks unlock never makes one; if it had one, check it with fsck.ext4, or run tep-luks setup on a volume it just formatted", mapped, c.Device)
		}
		if empty {
			if out, err := exec.CommandContext(ctx, "mkfs.ext4", "-q", mapped).CombinedOutput(); err != nil {
				return fmt.Errorf("mkfs.ext4 %s: %v: %s", mapped, err, out)
			}
		}
	}
	if c.Filesystem == "none" {
		return nil
	}
	if mounted, err := isMountPoint(c.Mount); err != nil || mounted {
		return err
	}
	if err := os.MkdirAll(c.Mount, 0o700); err != nil {
		return fmt.Errorf("creating mount point: %w", err)
	}
	if out, err := exec.CommandContext(ctx, "mount", mapped, c.Mount).CombinedOutput(); err != nil {
		return fmt.Errorf("mount %s %s: %v: %s", mapped, c.Mount, err, out)
	}
	return nil
}

// noFilesystem reports whether blkid finds no signature on dev (exit
// status 2, blkid(8)).
func noFilesystem(ctx context.Context, dev string) (bool, error) {
	// blkid answers 2 for a missing device too.
	if _, err := os.Stat(dev); err != nil {
		return false, err
	}
	err := exec.CommandContext(ctx, "blkid", "-p", dev).Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 2 {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("blkid -p %s: %w", dev, err)
	}
	return false, nil
}

// isMountPoint reports whether dir is a mount point, from
// /proc/self/mountinfo.
func isMountPoint(dir string) (bool, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false, err
	}
	defer f.Close()
	clean := filepath.Clean(dir)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) > 4 && fields[4] == clean {
			return true, nil
		}
	}
	return false, sc.Err()
}
