package luks

import (
	"bytes"
	"context"
	"crypto/elliptic"
	"errors"
	"os"
	"testing"

	"tep.dev/tep/provisioning/pcrpolicy"
)

var errCrash = errors.New("injected crash")

// crashing is the real cryptsetup with a crash injected into Format: it
// runs before the format (none), after it with the header left as a
// crash during the write leaves it (damage), or not at all.
type crashing struct {
	Cryptsetup
	before bool
	damage func(image string) error
}

func (c *crashing) Format(ctx context.Context, dev string, pass []byte, uuid string, o FormatOptions) error {
	if c.before {
		return errCrash
	}
	if c.damage == nil {
		return c.Cryptsetup.Format(ctx, dev, pass, uuid, o)
	}
	if err := c.Cryptsetup.Format(ctx, dev, pass, uuid, o); err != nil {
		return err
	}
	if err := c.damage(dev); err != nil {
		return err
	}
	return errCrash
}

// zero writes n zero bytes at off in the file.
func zero(off, n int64) func(string) error {
	return func(path string) error {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = f.WriteAt(make([]byte, n), off)
		return err
	}
}

// TestCrashBetweenSealAndFormat: the passphrase is sealed and persistent
// when the crash comes; the rerun formats with that same passphrase.
func TestCrashBetweenSealAndFormat(t *testing.T) {
	r := newRig(t, elliptic.P384())
	ctx := context.Background()
	c := r.sign(r.values(pcrpolicy.SHA256), r.key, 1)
	r.dev.Volume = &crashing{before: true}
	if _, err := r.dev.Setup(ctx, c, SetupOptions{}); !errors.Is(err, errCrash) {
		t.Fatalf("Setup with a crash before the format = %v", err)
	}
	name := r.sealedName()
	if ok, _ := (Cryptsetup{}).IsLUKS(ctx, r.image); ok {
		t.Fatal("the partition is LUKS after a crash before the format")
	}
	r.boot() // the crash took the machine down
	r.dev.Volume = nil
	res, err := r.dev.Setup(ctx, c, SetupOptions{})
	if err != nil || res.Action != "formatted" {
		t.Fatalf("Setup after the crash = %+v, %v; want formatted", res, err)
	}
	if !bytes.Equal(r.sealedName(), name) {
		t.Fatal("the rerun sealed a new passphrase instead of completing with the sealed one")
	}
	r.checkOpens(r.passphrase(c))
}

// TestCrashDuringFormat: a format cut short leaves either no valid header
// or a header whose keyslot the passphrase does not open; the marker says
// it is this device's own, so the rerun formats again. Without the
// marker, the same header would be a foreign one and left alone.
func TestCrashDuringFormat(t *testing.T) {
	cases := []struct {
		name   string
		damage func(string) error
	}{
		// Both header copies (LUKS2: at 0 and 16 KiB) never written.
		{"headers not written", zero(0, 32<<10)},
		// Headers written, keyslot area (from 32 KiB) not.
		{"keyslots not written", zero(32<<10, 4<<20)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, elliptic.P384())
			ctx := context.Background()
			c := r.sign(r.values(pcrpolicy.SHA256), r.key, 1)
			r.dev.Volume = &crashing{damage: tc.damage}
			if _, err := r.dev.Setup(ctx, c, SetupOptions{}); !errors.Is(err, errCrash) {
				t.Fatalf("Setup with a crash during the format = %v", err)
			}
			r.boot()
			r.dev.Volume = nil
			res, err := r.dev.Setup(ctx, c, SetupOptions{})
			if err != nil || res.Action != "formatted" {
				t.Fatalf("Setup after the crash = %+v, %v; want formatted\n%s", res, err, r.log.String())
			}
			r.checkOpens(r.passphrase(c))
			if _, err := os.Stat(r.dev.markerPath(r.image)); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("the format marker is still there: %v", err)
			}
		})
	}
	t.Run("no marker", func(t *testing.T) {
		r := newRig(t, elliptic.P384())
		ctx := context.Background()
		c := r.sign(r.values(pcrpolicy.SHA256), r.key, 1)
		r.dev.Volume = &crashing{damage: zero(32<<10, 4<<20)}
		if _, err := r.dev.Setup(ctx, c, SetupOptions{}); !errors.Is(err, errCrash) {
			t.Fatal(err)
		}
		if err := os.Remove(r.dev.markerPath(r.image)); err != nil {
			t.Fatal(err)
		}
		r.dev.Volume = nil
		sum := r.imageSum()
		if _, err := r.dev.Setup(ctx, c, SetupOptions{}); !errors.Is(err, ErrForeignLUKS) || r.imageSum() != sum {
			t.Fatalf("Setup on a header the passphrase does not open, with no marker = %v; want ErrForeignLUKS and no change", err)
		}
	})
}
