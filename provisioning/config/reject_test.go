package config

import (
	"archive/tar"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"tep.dev/tep/provisioning/archive"
	"tep.dev/tep/provisioning/archive/archivetest"
	"tep.dev/tep/provisioning/blob"
	"tep.dev/tep/provisioning/device"
)

// state is what a rejected blob must leave alone.
type state struct {
	dest, prev map[string]string
	epoch      uint64
}

func (r *rig) state() state {
	r.t.Helper()
	d, err := summary(r.opts.Dest)
	if err != nil {
		r.t.Fatal(err)
	}
	p, _ := summary(previous(r.opts.Dest))
	return state{d, p, r.epoch()}
}

// good applies a fresh good blob at the next epoch.
func (r *rig) good() {
	r.t.Helper()
	e := r.epoch() + 1
	r.seal(tree(r.t, map[string]string{"app/app.conf": fmt.Sprintf("epoch = %d\n", e)}), e, blob.ModeAES)
	if _, err := Apply(r.dev, r.opts); err != nil {
		r.t.Fatalf("Apply(good blob, epoch %d) = %v", e, err)
	}
	checkFiles(r.t, r.opts.Dest, map[string]string{"app/app.conf": fmt.Sprintf("epoch = %d\n", e)})
}

// reject applies what is in place, expects a rejection at step with
// want, an untouched destination and counter, and then a good blob.
func (r *rig) reject(step Step, want error) {
	r.t.Helper()
	r.rejectOnly(step, want)
	r.good()
}

// rejectOnly is reject without the good blob after.
func (r *rig) rejectOnly(step Step, want error) {
	r.t.Helper()
	before := r.state()
	res, err := Apply(r.dev, r.opts)
	var se *StepError
	if !errors.As(err, &se) || se.Step != step || (want != nil && !errors.Is(err, want)) {
		r.t.Fatalf("Apply = %v, want a %s step failure with %v", err, step, want)
	}
	if res.Status != "rejected" || res.Step != step || !strings.Contains(res.Error, string(step)) {
		r.t.Errorf("result %+v, want rejected at %s", res, step)
	}
	checkRecord(r.t, res, "rejected")
	if after := r.state(); !reflect.DeepEqual(after, before) {
		r.t.Errorf("state changed by a rejected blob:\nbefore %v\nafter  %v", before, after)
	}
}

// flips returns a blob flipped at one bit of each field: the first byte
// of each field, the last bit of the last.
func flips(raw []byte) map[string]int {
	b, err := blob.Parse(raw)
	if err != nil {
		panic(err)
	}
	key := 50
	ct := key + len(b.Key) + 8
	sig := ct + len(b.Ciphertext)
	return map[string]int{
		"magic": 0, "version": 4, "mode": 5, "sigalg": 6, "flags": 7, "epoch": 15,
		"fingerprint": 16, "keylen": 49, "iv": key, "ctlen": ct - 1, "ciphertext": ct + 20,
		"signature": sig + 10, "siglen": len(raw) - 1,
	}
}

func TestApplyRejects(t *testing.T) {
	r := newRig(t, ptt)
	r.good()
	for field := range flips(r.seal(tree(t, map[string]string{"a": "b"}), 100, blob.ModeAES)) {
		t.Run("flipped "+field, func(t *testing.T) {
			r.t = t
			raw := r.seal(tree(t, map[string]string{"a": "b"}), r.epoch()+1, blob.ModeAES)
			raw[flips(raw)[field]] ^= 0x01
			r.put(raw)
			step := StepVerify
			if _, err := blob.Parse(raw); err != nil {
				step = StepRead
			}
			r.reject(step, nil)
		})
	}
	other, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	otherAES := make([]byte, 32)
	rand.Read(otherAES)
	hostile := map[string][]byte{
		"dotdot":       archivetest.Tgz(t, archivetest.File("../../etc/passwd", "root::0:0::/:/bin/sh\n")),
		"absolute":     archivetest.Tgz(t, archivetest.File("/etc/passwd", "x")),
		"symlink /etc": archivetest.Tgz(t, archivetest.Typed("etc", tar.TypeSymlink, "/etc"), archivetest.File("etc/passwd", "x")),
		"hard link":    archivetest.Tgz(t, archivetest.File("a", "x"), archivetest.Typed("b", tar.TypeLink, "/etc/shadow")),
		"device node":  archivetest.Tgz(t, archivetest.Entry{Header: tar.Header{Name: "null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}}),
	}
	for _, tc := range []struct {
		name string
		blob func() []byte
		step Step
		want error
	}{
		{"truncated", func() []byte { b := r.seal(tree(t, nil), r.epoch()+1, blob.ModeAES); return b[:len(b)/2] }, StepRead, blob.ErrFormat},
		{"empty", func() []byte { return nil }, StepRead, blob.ErrFormat},
		{"other signer", func() []byte {
			b, _ := blob.Seal(tree(t, nil), blob.Options{Signer: other, Epoch: r.epoch() + 1, AESKey: r.aesKey})
			return b
		}, StepVerify, blob.ErrSigner},
		{"other device's AES key", func() []byte {
			b, _ := blob.Seal(tree(t, nil), blob.Options{Signer: r.signer, Epoch: r.epoch() + 1, AESKey: otherAES})
			return b
		}, StepDecrypt, blob.ErrDecrypt},
		{"equal epoch", func() []byte { return r.seal(tree(t, nil), r.epoch(), blob.ModeAES) }, StepEpoch, ErrReplay},
		{"older epoch", func() []byte { return r.seal(tree(t, nil), r.epoch()-1, blob.ModeAES) }, StepEpoch, ErrReplay},
		{"epoch jump", func() []byte { return r.seal(tree(t, nil), r.epoch()+MaxEpochStep+1, blob.ModeAES) }, StepEpoch, ErrEpochJump},
		{"ecdh equal epoch", func() []byte { return r.seal(tree(t, nil), r.epoch(), blob.ModeECDH) }, StepEpoch, ErrReplay},
		{"dotdot", sealed(r, hostile["dotdot"]), StepExtract, archive.ErrUnsafePath},
		{"absolute", sealed(r, hostile["absolute"]), StepExtract, archive.ErrUnsafePath},
		{"symlink /etc then a file through it", sealed(r, hostile["symlink /etc"]), StepExtract, archive.ErrUnsafeLink},
		{"hard link", sealed(r, hostile["hard link"]), StepExtract, archive.ErrEntryType},
		{"device node", sealed(r, hostile["device node"]), StepExtract, archive.ErrEntryType},
		{"100,000 empty files", sealed(r, archivetest.EmptyFiles(t, 100000)), StepExtract, archive.ErrTooMany},
		{"10 GiB gzip bomb", sealed(r, archivetest.Bomb(t, 10<<30, 1)), StepExtract, archive.ErrTooLarge},
		{"not a tgz", sealed(r, []byte("plain text")), StepExtract, archive.ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r.t = t
			r.put(tc.blob())
			r.reject(tc.step, tc.want)
			if _, err := os.Stat("/etc/passwd"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// sealed returns a function that seals tgz at the rig's next epoch.
func sealed(r *rig, tgz []byte) func() []byte {
	return func() []byte { return r.seal(tgz, r.epoch()+1, blob.ModeAES) }
}

func TestApplySettings(t *testing.T) {
	r := newRig(t, ptt)
	r.good()
	dir := t.TempDir()
	log := filepath.Join(dir, "systemctl.log")
	ok := filepath.Join(dir, "systemctl")
	os.WriteFile(ok, []byte("#!/bin/sh\necho \"$@\" >> "+log+"\n"), 0o755)
	failing := filepath.Join(dir, "systemctl-fails")
	os.WriteFile(failing, []byte("#!/bin/sh\necho unit failed >&2\nexit 1\n"), 0o755)
	r.opts.SettingsFile = filepath.Join(dir, "config.yaml")
	write := func(s string) { os.WriteFile(r.opts.SettingsFile, []byte(s), 0o644) }

	t.Run("unknown hook", func(t *testing.T) {
		r.t = t
		write("hooks:\n  - run: rm -rf /\n    when: [app/]\n")
		r.put(r.seal(tree(t, map[string]string{"app/x": "1"}), r.epoch()+1, blob.ModeAES))
		before := r.state()
		if _, err := Apply(r.dev, r.opts); !isStep(err, StepSettings) || !strings.Contains(err.Error(), "run") {
			t.Fatalf("Apply = %v, want a settings failure naming the hook", err)
		}
		if !reflect.DeepEqual(r.state(), before) {
			t.Error("state changed")
		}
	})
	t.Run("hook runs for changed files only", func(t *testing.T) {
		r.t = t
		write("hooks:\n  - restart: app.service\n    when: [app/]\n  - reload: other.service\n    when: ['other/*.conf']\n")
		r.opts.Systemctl = ok
		r.seal(tree(t, map[string]string{"app/app.conf": "new", "other/readme": "x"}), r.epoch()+1, blob.ModeAES)
		res, err := Apply(r.dev, r.opts)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(log)
		if string(got) != "restart app.service\n" || len(res.Hooks) != 1 {
			t.Errorf("systemctl ran %q (hooks %v), want only restart app.service", got, res.Hooks)
		}
	})
	t.Run("failing hook", func(t *testing.T) {
		r.t = t
		r.opts.Systemctl = failing
		r.seal(tree(t, map[string]string{"app/app.conf": "newer"}), r.epoch()+1, blob.ModeAES)
		r.rejectOnly(StepHooks, nil)
		r.opts.Systemctl = ok
		r.good()
	})
	t.Run("rollback runs the hooks", func(t *testing.T) {
		r.t = t
		os.Remove(log)
		res, err := Rollback(r.opts)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(log)
		if string(got) != "restart app.service\n" || len(res.Hooks) != 1 {
			t.Errorf("systemctl ran %q (hooks %v), want restart app.service", got, res.Hooks)
		}
	})
	r.opts.SettingsFile = ""
}

func isStep(err error, s Step) bool {
	var se *StepError
	return errors.As(err, &se) && se.Step == s
}

func TestApplyNotProvisioned(t *testing.T) {
	r := newRig(t, ptt)
	r.good()
	// A second, empty swtpm: no policy key.
	bare := newBareDevice(t)
	r.seal(tree(t, map[string]string{"a": "b"}), 5, blob.ModeAES)
	_, err := Apply(bare, r.opts)
	if !isStep(err, StepVerify) || !errors.Is(err, device.ErrNotProvisioned) || !strings.Contains(err.Error(), "tep-provision") {
		t.Errorf("Apply(no policy key) = %v, want a verify failure that says to run tep-provision", err)
	}
	// The policy key but no AES key.
	r.evict(t)
	r.seal(tree(t, map[string]string{"a": "b"}), r.epoch()+1, blob.ModeAES)
	before := r.state()
	_, err = Apply(r.dev, r.opts)
	if !isStep(err, StepDecrypt) || !errors.Is(err, device.ErrNotProvisioned) || !strings.Contains(err.Error(), "tep-provision") {
		t.Errorf("Apply(no AES key) = %v, want a decrypt failure that says to run tep-provision", err)
	}
	if !reflect.DeepEqual(r.state(), before) {
		t.Error("state changed")
	}
	r.seal(tree(t, map[string]string{"a": "b"}), r.epoch()+1, blob.ModeECDH)
	if _, err := Apply(r.dev, r.opts); err != nil {
		t.Errorf("Apply(ecdh blob, no AES key needed) = %v", err)
	}
}

func newBareDevice(t *testing.T) TPMDevice {
	t.Helper()
	tp, err := openBare(t)
	if err != nil {
		t.Fatal(err)
	}
	return TPMDevice{T: tp}
}
