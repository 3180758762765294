package config

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// hookTimeout bounds one systemctl call.
const hookTimeout = 2 * time.Minute

// runHooks runs the settings' hooks whose paths changed, in order, and
// returns the commands it ran.
func runHooks(o Options, changed []string) ([][]string, error) {
	var ran [][]string
	for _, h := range o.Settings.Hooks {
		if !h.matches(changed) {
			continue
		}
		args := h.args()
		ran = append(ran, append([]string{o.Systemctl}, args...))
		ctx, cancel := context.WithTimeout(context.Background(), hookTimeout)
		out, err := exec.CommandContext(ctx, o.Systemctl, args...).CombinedOutput()
		cancel()
		if err != nil {
			return ran, fmt.Errorf("%s %s %s: %v: %s", o.Systemctl, args[0], args[1], err, tailOf(out))
		}
	}
	return ran, nil
}

func tailOf(b []byte) []byte {
	if len(b) > 512 {
		return b[len(b)-512:]
	}
	return b
}

// record moves the blob into dir (applied or rejected) beside it and writes
// r as a JSON record next to it. It returns the blob's new path, or ""
// when it could not be moved (the blob is missing, or its directory is
// read-only): the result says what happened either way.
func record(o Options, r *Result, dir string) string {
	b, err := os.ReadFile(o.Blob)
	if err != nil {
		return ""
	}
	folder := filepath.Join(filepath.Dir(o.Blob), dir)
	if err := os.MkdirAll(folder, 0o700); err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	name := fmt.Sprintf("%s-epoch%d-%x", r.Time.Format("20060102T150405Z"), r.Epoch, sum[:4])
	target := filepath.Join(folder, name+".bin")
	if err := os.Rename(o.Blob, target); err != nil {
		return ""
	}
	r.Record = target
	js, _ := json.MarshalIndent(r, "", "  ")
	os.WriteFile(filepath.Join(folder, name+".json"), append(js, '\n'), 0o600)
	return target
}
