package luks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// Volume is what tep-luks does to a partition. [Cryptsetup] runs the
// real cryptsetup; tests wrap it to inject crashes.
type Volume interface {
	// IsLUKS reports whether dev starts with a LUKS header.
	IsLUKS(ctx context.Context, dev string) (bool, error)
	// UUID is the LUKS header's UUID.
	UUID(ctx context.Context, dev string) (string, error)
	// Format writes a new LUKS2 header with pass in keyslot 0.
	Format(ctx context.Context, dev string, pass []byte, uuid string, opts FormatOptions) error
	// TestPassphrase reports whether pass opens a keyslot of dev,
	// without mapping it.
	TestPassphrase(ctx context.Context, dev string, pass []byte) (bool, error)
	// Open maps dev at /dev/mapper/name with pass.
	Open(ctx context.Context, dev, name string, pass []byte) error
	// Content names what blkid finds on dev (a filesystem, a partition
	// table, another volume's signature), or "" when it finds nothing.
	Content(ctx context.Context, dev string) (string, error)
}

// Cryptsetup runs the cryptsetup command (Debian's cryptsetup-bin). The
// passphrase reaches it only through a pipe inherited as descriptor 3
// (--key-file=/dev/fd/3): never on a command line, in the environment or
// on disk.
type Cryptsetup struct {
	// Path is the command; empty is "cryptsetup" from PATH.
	Path string
	// Started, if set, is called with each cryptsetup child's PID while
	// the child runs and before it is given the passphrase (the tests
	// read its /proc entries).
	Started func(pid int)
}

// exit codes of cryptsetup (cryptsetup(8), RETURN CODES).
const (
	csWrongPassphrase = 2
)

func (c Cryptsetup) run(ctx context.Context, pass []byte, args ...string) (int, string, error) {
	path := c.Path
	if path == "" {
		path = "cryptsetup"
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	var w *os.File
	if pass != nil {
		r, pw, err := os.Pipe()
		if err != nil {
			return 0, "", err
		}
		w = pw
		defer r.Close()
		cmd.ExtraFiles = []*os.File{r} // descriptor 3 in the child
	}
	if err := cmd.Start(); err != nil {
		if w != nil {
			w.Close()
		}
		return 0, "", fmt.Errorf("running %s: %w", path, err)
	}
	if c.Started != nil {
		c.Started(cmd.Process.Pid)
	}
	if w != nil {
		// A passphrase fits in the pipe's buffer; the child reads it to
		// the end of file.
		_, err := w.Write(pass)
		w.Close()
		if err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			return 0, "", fmt.Errorf("passing the passphrase to cryptsetup: %w", err)
		}
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), strings.TrimSpace(stderr.String()), nil
	}
	return 0, strings.TrimSpace(stderr.String()), err
}

func (c Cryptsetup) must(ctx context.Context, pass []byte, args ...string) error {
	code, out, err := c.run(ctx, pass, args...)
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("cryptsetup %s: exit status %d: %s", args[0], code, out)
	}
	return nil
}

// IsLUKS runs cryptsetup isLuks.
func (c Cryptsetup) IsLUKS(ctx context.Context, dev string) (bool, error) {
	if _, err := os.Stat(dev); err != nil {
		return false, fmt.Errorf("partition %s: %w", dev, err)
	}
	code, out, err := c.run(ctx, nil, "isLuks", dev)
	if err != nil {
		return false, err
	}
	switch code {
	case 0:
		return true, nil
	case 1:
		return false, nil
	}
	return false, fmt.Errorf("cryptsetup isLuks %s: exit status %d: %s", dev, code, out)
}

// UUID runs cryptsetup luksUUID.
func (c Cryptsetup) UUID(ctx context.Context, dev string) (string, error) {
	path := c.Path
	if path == "" {
		path = "cryptsetup"
	}
	out, err := exec.CommandContext(ctx, path, "luksUUID", dev).Output()
	if err != nil {
		return "", fmt.Errorf("cryptsetup luksUUID %s: %w", dev, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// Format runs cryptsetup luksFormat --type luks2 in batch mode.
func (c Cryptsetup) Format(ctx context.Context, dev string, pass []byte, uuid string, opts FormatOptions) error {
	args := []string{"luksFormat", "--type", "luks2", "--batch-mode", "--key-file=/dev/fd/3"}
	if uuid != "" {
		args = append(args, "--uuid", uuid)
	}
	if opts.PBKDF != "" {
		args = append(args, "--pbkdf", opts.PBKDF)
	}
	if opts.PBKDFForceIterations > 0 {
		args = append(args, "--pbkdf-force-iterations", strconv.Itoa(opts.PBKDFForceIterations))
	}
	if opts.PBKDFMemoryKiB > 0 {
		args = append(args, "--pbkdf-memory", strconv.Itoa(opts.PBKDFMemoryKiB))
	}
	return c.must(ctx, pass, append(args, dev)...)
}

// TestPassphrase runs cryptsetup open --test-passphrase.
func (c Cryptsetup) TestPassphrase(ctx context.Context, dev string, pass []byte) (bool, error) {
	code, out, err := c.run(ctx, pass, "open", "--test-passphrase", "--key-file=/dev/fd/3", dev)
	if err != nil {
		return false, err
	}
	switch code {
	case 0:
		return true, nil
	case csWrongPassphrase:
		return false, nil
	}
	return false, fmt.Errorf("cryptsetup open --test-passphrase %s: exit status %d: %s", dev, code, out)
}

// Open runs cryptsetup open.
func (c Cryptsetup) Open(ctx context.Context, dev, name string, pass []byte) error {
	return c.must(ctx, pass, "open", "--type", "luks2", "--key-file=/dev/fd/3", dev, name)
}

// Content runs blkid -p (low-level probing, no cache): exit status 2
// means no signature was found (blkid(8)).
func (c Cryptsetup) Content(ctx context.Context, dev string) (string, error) {
	// blkid answers 2 for a missing device too.
	if _, err := os.Stat(dev); err != nil {
		return "", fmt.Errorf("partition %s: %w", dev, err)
	}
	out, err := exec.CommandContext(ctx, "blkid", "-p", "-o", "export", dev).Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 2 {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("blkid -p %s: %w", dev, err)
	}
	var what []string
	for _, line := range strings.Split(string(out), "\n") {
		k, v, _ := strings.Cut(line, "=")
		if k == "TYPE" || k == "PTTYPE" {
			what = append(what, v)
		}
	}
	if len(what) == 0 {
		return "unrecognised content", nil
	}
	return strings.Join(what, ", "), nil
}

// MappingAvailable says whether device-mapper can map volumes here: the
// kernel lists its misc device in /proc/misc. /dev/mapper/control alone
// proves nothing, as libdevmapper creates that node itself. Where
// device-mapper is missing (containers, these test machines), cryptsetup
// can format and check passphrases but not open.
func MappingAvailable() bool {
	b, err := os.ReadFile("/proc/misc")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[1] == "device-mapper" {
			return true
		}
	}
	return false
}
