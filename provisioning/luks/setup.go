package luks

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-tpm/tpm2/transport"

	"tep.dev/tep/provisioning"
	"tep.dev/tep/provisioning/device"
)

// SetupOptions are setup's destructive choices. The zero value never
// destroys anything.
type SetupOptions struct {
	// ReformatDestroysData allows formatting a partition that holds a
	// LUKS volume the sealed passphrase does not open.
	ReformatDestroysData bool
	// Confirm asks the operator; it is required with ReformatDestroysData
	// unless Yes is set.
	Confirm func(question string) (bool, error)
	Yes     bool
}

// Setup is the first boot: it seals a new passphrase under cfg's
// authorized policy and formats the partition with it, or, where the
// partition is already this TPM's LUKS volume, unlocks it. Its steps are
// ordered so that a crash anywhere leaves a state that running Setup again
// completes without losing anything (docs/luks.md, "Crash safety").
func (d *Device) Setup(ctx context.Context, cfg *Config, opts SetupOptions) (Result, error) {
	c := cfg.withDefaults()
	key, p, err := d.Verify(cfg)
	if err != nil {
		return Result{}, err
	}
	if _, err := device.EnsureCounter(d.TPM, provisioning.LUKSRevocationIndex); err != nil {
		return Result{}, fmt.Errorf("starting the revocation counter: %w", err)
	}
	if err := d.checkState(&c, p); err != nil {
		return Result{}, err
	}
	isLUKS, err := d.volume().IsLUKS(ctx, c.Device)
	if err != nil {
		return Result{}, err
	}
	obj, err := sealedState(d, p.Authorized)
	if err != nil {
		return Result{}, err
	}
	if isLUKS {
		if obj == sealedOurs {
			pass, tm, err := unsealPassphrase(d.TPM, key, p, c.Epoch)
			if err != nil {
				return Result{}, err
			}
			defer clear(pass)
			ok, err := d.volume().TestPassphrase(ctx, c.Device, pass)
			if err != nil {
				return Result{}, err
			}
			if ok {
				d.logf("%s is already this TPM's LUKS volume: unlocking it", c.Device)
				if err := os.Remove(d.markerPath(c.Device)); err != nil && !errors.Is(err, os.ErrNotExist) {
					return Result{}, fmt.Errorf("removing the format marker: %w", err)
				}
				r := Result{Action: "unlocked", Device: c.Device, Timing: tm}
				return r, d.open(ctx, &c, pass, &r, true)
			}
			if d.interruptedFormat(ctx, c.Device) {
				d.logf("%s holds the header of a format that did not finish: formatting again", c.Device)
				return d.format(ctx, &c, pass, tm)
			}
		}
		if !opts.ReformatDestroysData {
			return Result{}, fmt.Errorf("%w: %s holds a LUKS header that %s; tep-luks never formats it on its own. "+
				"To destroy its data and seal a new passphrase: tep-luks setup --reformat-destroys-data",
				ErrForeignLUKS, c.Device, obj.describe())
		}
		if err := confirm(opts, fmt.Sprintf("Format %s and destroy all data on it?", c.Device)); err != nil {
			return Result{}, err
		}
		obj = sealedForeign // a new passphrase: the old one may be known
	} else if err := d.checkEmpty(ctx, c.Device, opts); err != nil {
		return Result{}, err
	}
	if obj == sealedForeign {
		d.logf("replacing the passphrase sealed at 0x%08x", uint32(provisioning.LUKSHandle))
		if err := evictSealed(d.TPM); err != nil {
			return Result{}, err
		}
	}
	if obj != sealedOurs {
		pass, err := d.newPassphrase()
		if err != nil {
			return Result{}, err
		}
		err = sealPassphrase(d.TPM, pass, p.Authorized)
		clear(pass)
		if err != nil {
			return Result{}, err
		}
		d.logf("sealed a new passphrase at 0x%08x", uint32(provisioning.LUKSHandle))
	}
	// Unseal what is sealed, through the policy: a configuration that
	// cannot unseal stops here, before the partition is touched.
	pass, tm, err := unsealPassphrase(d.TPM, key, p, c.Epoch)
	if err != nil {
		return Result{}, err
	}
	defer clear(pass)
	return d.format(ctx, &c, pass, tm)
}

// checkEmpty refuses to format a partition on which blkid finds
// anything, unless told to destroy it. A header left by this device's own
// unfinished format (the marker's UUID) is not data.
func (d *Device) checkEmpty(ctx context.Context, dev string, opts SetupOptions) error {
	what, err := d.volume().Content(ctx, dev)
	if err != nil || what == "" || d.interruptedFormat(ctx, dev) {
		return err
	}
	if !opts.ReformatDestroysData {
		return fmt.Errorf("%w: %s has no LUKS header but holds %s; tep-luks formats only empty partitions. "+
			"To destroy its data: tep-luks setup --reformat-destroys-data", ErrInUse, dev, what)
	}
	return confirm(opts, fmt.Sprintf("Format %s, which holds %s, and destroy all data on it?", dev, what))
}

type sealed int

const (
	sealedNone    sealed = iota // nothing at LUKSHandle
	sealedOurs                  // sealed under this configuration's key
	sealedForeign               // sealed under another policy
)

func (s sealed) describe() string {
	if s == sealedNone {
		return fmt.Sprintf("no passphrase is sealed for (0x%08x is empty)", uint32(provisioning.LUKSHandle))
	}
	return fmt.Sprintf("the passphrase sealed at 0x%08x does not open", uint32(provisioning.LUKSHandle))
}

func sealedState(d *Device, authorized []byte) (sealed, error) {
	var obj sealedObject
	err := d.TPM.Do(func(tr transport.TPM) (err error) {
		obj, err = readSealed(tr)
		return err
	})
	switch {
	case errors.Is(err, ErrNotSealed):
		return sealedNone, nil
	case err != nil:
		return 0, err
	case obj.matches(authorized):
		return sealedOurs, nil
	}
	return sealedForeign, nil
}

func confirm(opts SetupOptions, question string) error {
	if opts.Yes {
		return nil
	}
	if opts.Confirm == nil {
		return fmt.Errorf("%w: %s (pass --yes to confirm)", ErrNotConfirmed, question)
	}
	ok, err := opts.Confirm(question)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotConfirmed, question)
	}
	return nil
}

// format writes a new LUKS2 header with pass. Before it starts, a marker
// in the state directory records the UUID the header will carry, so that
// a header left by a crash during the format (which the passphrase may not
// open) is known as this TPM's own and formatted again, while any other
// LUKS header is never touched. The marker goes once the passphrase is
// seen to open the new header.
func (d *Device) format(ctx context.Context, c *Config, pass []byte, tm Timing) (Result, error) {
	uuid, err := newUUID()
	if err != nil {
		return Result{}, err
	}
	if err := d.writeMarker(c.Device, uuid); err != nil {
		return Result{}, err
	}
	d.logf("formatting %s (LUKS2, UUID %s)", c.Device, uuid)
	if err := d.volume().Format(ctx, c.Device, pass, uuid, c.Cryptsetup); err != nil {
		return Result{}, err
	}
	ok, err := d.volume().TestPassphrase(ctx, c.Device, pass)
	if err != nil {
		return Result{}, err
	}
	if !ok {
		return Result{}, fmt.Errorf("the sealed passphrase does not open the header just written on %s", c.Device)
	}
	if err := os.Remove(d.markerPath(c.Device)); err != nil {
		return Result{}, fmt.Errorf("removing the format marker: %w", err)
	}
	r := Result{Action: "formatted", Device: c.Device, Timing: tm}
	return r, d.open(ctx, c, pass, &r, true)
}

// interruptedFormat reports whether dev's LUKS header is the one a format
// of this device started and did not finish.
func (d *Device) interruptedFormat(ctx context.Context, dev string) bool {
	want, err := os.ReadFile(d.markerPath(dev))
	if err != nil {
		return false
	}
	got, err := d.volume().UUID(ctx, dev)
	return err == nil && got != "" && got == string(bytes.TrimSpace(want))
}

func (d *Device) stateDir() string {
	if d.StateDir == "" {
		return DefaultStateDir
	}
	return d.StateDir
}

func (d *Device) markerPath(dev string) string {
	name := strings.ReplaceAll(strings.Trim(filepath.Clean(dev), "/"), "/", "_")
	return filepath.Join(d.stateDir(), "formatting-"+name)
}

// writeMarker writes the marker durably: a temporary file, synced, renamed,
// and the directory synced.
func (d *Device) writeMarker(dev, uuid string) error {
	if err := os.MkdirAll(d.stateDir(), 0o700); err != nil {
		return fmt.Errorf("creating the state directory: %w", err)
	}
	path := d.markerPath(dev)
	f, err := os.CreateTemp(d.stateDir(), ".marker*")
	if err != nil {
		return fmt.Errorf("writing the format marker: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = f.WriteString(uuid + "\n")
	if err = errors.Join(err, f.Sync(), f.Close()); err != nil {
		return fmt.Errorf("writing the format marker: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing the format marker: %w", err)
	}
	dir, err := os.Open(d.stateDir())
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}

// newUUID is a random (version 4) UUID.
func newUUID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}
