package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tep.dev/tep/provisioning/blob"
)

func TestApplyRollback(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    profile
		mode blob.Mode
	}{
		{"ptt-aes", ptt, blob.ModeAES},
		{"ptt-ecdh", ptt, blob.ModeECDH},
		{"dtpm-aes", dtpm, blob.ModeAES},
		{"dtpm-ecdh", dtpm, blob.ModeECDH},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, tc.p)
			one := map[string]string{"app/app.conf": "level = 1\n", "motd": "hello\n"}
			two := map[string]string{"app/app.conf": "level = 2\n", "motd": "hello\n", "new": "x"}
			// tep-provision device started the counter at e.
			e := r.epoch()
			r.seal(tree(t, one), e+1, tc.mode)
			res, err := Apply(r.dev, r.opts)
			if err != nil {
				t.Fatalf("Apply(epoch %d) = %v", e+1, err)
			}
			checkFiles(t, r.opts.Dest, one)
			if r.epoch() != e+1 || res.Epoch != e+1 || res.Mode != tc.mode.String() {
				t.Errorf("after epoch %d: counter %d, result %+v", e+1, r.epoch(), res)
			}
			checkRecord(t, res, "applied")

			r.seal(tree(t, two), e+2, tc.mode)
			res, err = Apply(r.dev, r.opts)
			if err != nil {
				t.Fatalf("Apply(epoch %d) = %v", e+2, err)
			}
			checkFiles(t, r.opts.Dest, two)
			if got := res.Changed; len(got) != 2 || got[0] != "app/app.conf" || got[1] != "new" {
				t.Errorf("epoch 2 changed %v, want [app/app.conf new]", got)
			}

			if _, err := Rollback(r.opts); err != nil {
				t.Fatalf("Rollback = %v", err)
			}
			checkFiles(t, r.opts.Dest, one)
			if r.epoch() != e+2 {
				t.Errorf("counter after rollback = %d, want %d", r.epoch(), e+2)
			}
			if _, err := Rollback(r.opts); err != nil {
				t.Fatalf("second Rollback = %v", err)
			}
			checkFiles(t, r.opts.Dest, two)
		})
	}
}

func checkRecord(t testing.TB, res *Result, dir string) {
	t.Helper()
	if filepath.Base(filepath.Dir(res.Record)) != dir {
		t.Fatalf("blob moved to %q, want it in %s/", res.Record, dir)
	}
	b, err := os.ReadFile(res.Record[:len(res.Record)-len(".bin")] + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var rec Result
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Status != res.Status || rec.Epoch != res.Epoch || rec.Signer != res.Signer || rec.Step != res.Step {
		t.Errorf("record %+v, want the result %+v", rec, res)
	}
}

func TestRollbackWithoutPrevious(t *testing.T) {
	o := Options{Dest: filepath.Join(t.TempDir(), "dest")}
	if _, err := Rollback(o); err == nil {
		t.Error("Rollback with nothing kept = nil error")
	}
}

// TestApplyLocked: while another apply or rollback holds the destination,
// apply refuses at once and leaves the blob where it is.
func TestApplyLocked(t *testing.T) {
	dir := t.TempDir()
	o := Options{Blob: filepath.Join(dir, "b.bin"), Dest: filepath.Join(dir, "dest")}
	os.WriteFile(o.Blob, []byte("blob"), 0o600)
	unlock, err := lockDest(o.Dest)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if _, err := Apply(nil, o); err == nil || !strings.Contains(err.Error(), "another tep-config") {
		t.Errorf("Apply while locked = %v, want a refusal naming the other tep-config", err)
	}
	if _, err := Rollback(o); err == nil || !strings.Contains(err.Error(), "another tep-config") {
		t.Errorf("Rollback while locked = %v, want a refusal naming the other tep-config", err)
	}
	if _, err := os.Stat(o.Blob); err != nil {
		t.Errorf("the blob moved: %v", err)
	}
}
