package config

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"tep.dev/tep/provisioning"
	"tep.dev/tep/provisioning/blob"
	"tep.dev/tep/provisioning/device"
)

// A TPM user (the owner, while its authorization is empty) can undefine
// the epoch counter. Read as 0, it let an old blob past the rollback
// guard: swapped in and its hooks run before the raise found the new
// counter (which starts above every count the TPM had) ahead of it. A
// missing counter now stops apply at the guard, and the next good blob
// applies once tep-provision has started the counter again.
func TestApplyCounterUndefined(t *testing.T) {
	r := newRig(t, ptt)
	dir := t.TempDir()
	log := filepath.Join(dir, "systemctl.log")
	r.opts.Systemctl = filepath.Join(dir, "systemctl")
	os.WriteFile(r.opts.Systemctl, []byte("#!/bin/sh\necho \"$@\" >> "+log+"\n"), 0o755)
	r.opts.Settings.Hooks = []Hook{{Restart: "app.service", When: []string{"app/"}}}
	r.good()
	old := r.seal(tree(t, map[string]string{"app/app.conf": "old and replayed\n"}), r.epoch()+1, blob.ModeAES)
	if _, err := Apply(r.dev, r.opts); err != nil {
		t.Fatal(err)
	}
	r.good()
	os.Remove(log)

	err := r.tpm.Do(func(tr transport.TPM) error {
		_, err := tpm2.NVUndefineSpace{AuthHandle: tpm2.TPMRHOwner, NVIndex: tpm2.NamedHandle{Handle: provisioning.ConfigEpochIndex}}.Execute(tr)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	r.put(old)
	d, _ := summary(r.opts.Dest)
	if _, err := Apply(r.dev, r.opts); !isStep(err, StepEpoch) {
		t.Errorf("Apply(old blob, counter undefined) = %v, want a rollback-guard failure", err)
	}
	if ran, _ := os.ReadFile(log); len(ran) != 0 {
		t.Errorf("hooks ran for a replayed blob: %q", ran)
	}
	if after, _ := summary(r.opts.Dest); !reflect.DeepEqual(after, d) {
		t.Error("destination changed")
	}
	if _, err := device.EnsureCounter(r.tpm, provisioning.ConfigEpochIndex); err != nil {
		t.Fatal(err)
	}
	r.good()
}
