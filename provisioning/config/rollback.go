package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"tep.dev/tep/provisioning/blob"
)

// RollbackResult is what Rollback did.
type RollbackResult struct {
	Dest    string     `json:"dest"`
	Changed []string   `json:"changed,omitempty"`
	Hooks   [][]string `json:"hooks,omitempty"`
}

// Rollback exchanges the destination with the configuration kept before
// the last apply, in one step, and runs the hooks for what changed. A
// second rollback undoes the first. The epoch counter stays where it is:
// a rollback goes back to files already applied, not to an older blob.
func Rollback(o Options) (*RollbackResult, error) {
	o = o.withDefaults()
	r := &RollbackResult{Dest: o.Dest}
	unlock, err := lockDest(o.Dest)
	if err != nil {
		return r, err
	}
	defer unlock()
	if o.SettingsFile != "" {
		if o.Settings, err = LoadSettings(o.SettingsFile); err != nil {
			return r, err
		}
	}
	prev := previous(o.Dest)
	if _, err := os.Lstat(prev); errors.Is(err, os.ErrNotExist) {
		return r, fmt.Errorf("%w: %s is missing", ErrNoPrevious, prev)
	}
	if r.Changed, err = diff(o.Dest, prev); err != nil {
		return r, err
	}
	if err := exchange(prev, o.Dest); err != nil {
		return r, err
	}
	r.Hooks, err = runHooks(o, r.Changed)
	if err != nil {
		return r, fmt.Errorf("rolled back, but a hook failed: %w", err)
	}
	return r, nil
}

// Status is what tep-config status shows.
type Status struct {
	// Epoch is the TPM's counter: the last epoch applied.
	Epoch uint64 `json:"epoch"`
	// PolicyKey is the hex fingerprint of the policy key in NV, or empty
	// with Error saying why.
	PolicyKey string `json:"policy_key,omitempty"`
	Error     string `json:"error,omitempty"`
	Dest      string `json:"dest"`
	HasDest   bool   `json:"has_dest"`
	// HasPrevious says whether rollback has something to go back to.
	HasPrevious bool `json:"has_previous"`
	// LastApplied is the newest record in applied/, if any.
	LastApplied string `json:"last_applied,omitempty"`
}

// GetStatus reads the device's tep-config state.
func GetStatus(dev Device, o Options) (*Status, error) {
	o = o.withDefaults()
	s := &Status{Dest: o.Dest}
	var err error
	if s.Epoch, err = dev.Epoch(); err != nil {
		s.Error = err.Error()
	}
	if pub, err := dev.PolicyKey(); err != nil {
		s.Error = strings.TrimPrefix(s.Error+"; "+err.Error(), "; ")
	} else if fp, err := blob.Fingerprint(pub); err == nil {
		s.PolicyKey = hex.EncodeToString(fp[:])
	}
	_, err = os.Stat(o.Dest)
	s.HasDest = err == nil
	_, err = os.Stat(previous(o.Dest))
	s.HasPrevious = err == nil
	records, _ := filepath.Glob(filepath.Join(filepath.Dir(o.Blob), "applied", "*.json"))
	if len(records) > 0 {
		s.LastApplied = slices.Max(records)
	}
	return s, nil
}
