package config

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"tep.dev/tep/provisioning/archive"
	"tep.dev/tep/provisioning/blob"
)

// DefaultSettings is where the device keeps its own tep-config settings.
const DefaultSettings = "/etc/tep/config.yaml"

// Settings are the device's own rules for applying blobs, from
// /etc/tep/config.yaml. A blob cannot change them: they decide what a
// signed blob may make the device do.
type Settings struct {
	// Limits bound the archive a blob carries.
	Limits struct {
		Entries int   `yaml:"entries"`
		Bytes   int64 `yaml:"bytes"`
		Ratio   int64 `yaml:"ratio"`
		// Blob bounds the blob file itself (default 256 MiB).
		Blob int64 `yaml:"blob"`
	} `yaml:"limits"`
	// Hooks are the only commands apply runs, after the swap.
	Hooks []Hook `yaml:"hooks"`
	// PolicyKey, when set, is the hex SHA-256 fingerprint of the policy
	// key (tep-provision status prints it) that NV must hold: with the
	// empty owner authorization any process that can open the TPM can
	// replace the key in NV (docs/provisioning.md, "Trust boundary"),
	// while this file is root's.
	PolicyKey string `yaml:"policy_key"`
}

// Hook restarts or reloads one systemd unit when a file it watches
// changed. Exactly one of Restart and Reload is set.
type Hook struct {
	// Restart is a unit to `systemctl restart`.
	Restart string `yaml:"restart"`
	// Reload is a unit to `systemctl reload`.
	Reload string `yaml:"reload"`
	// When lists the archive paths that trigger the hook: path.Match
	// patterns, and "dir/" for everything under dir.
	When []string `yaml:"when"`
}

// DefaultBlobLimit bounds a blob file.
const DefaultBlobLimit = 256 << 20

// unitName is a systemd unit name of the types a hook may touch.
var unitName = regexp.MustCompile(`^[A-Za-z0-9:_.@\\-]+\.(service|socket|target|timer|path|mount)$`)

// LoadSettings reads the settings file; a missing file means no hooks and
// the default limits. Unknown keys are errors: a misspelt or unknown
// hook must not be skipped in silence.
func LoadSettings(file string) (Settings, error) {
	var s Settings
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("reading settings: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil && !errors.Is(err, io.EOF) {
		return Settings{}, fmt.Errorf("settings %s: %w", file, err)
	}
	s.PolicyKey = strings.TrimPrefix(s.PolicyKey, "SHA256:")
	if fp, err := hex.DecodeString(s.PolicyKey); err != nil || (s.PolicyKey != "" && len(fp) != sha256.Size) {
		return Settings{}, fmt.Errorf("settings %s: policy_key %q is not a hex SHA-256 fingerprint", file, s.PolicyKey)
	}
	for i, h := range s.Hooks {
		if err := h.check(); err != nil {
			return Settings{}, fmt.Errorf("settings %s: hook %d: %w", file, i+1, err)
		}
	}
	return s, nil
}

func (h Hook) check() error {
	unit := h.Restart + h.Reload
	switch {
	case (h.Restart == "") == (h.Reload == ""):
		return errors.New("give exactly one of restart and reload")
	case !unitName.MatchString(unit):
		return fmt.Errorf("%q is not a unit name", unit)
	case len(h.When) == 0:
		return fmt.Errorf("unit %s: no paths under when", unit)
	}
	for _, p := range h.When {
		if _, err := path.Match(strings.TrimSuffix(p, "/"), ""); err != nil {
			return fmt.Errorf("unit %s: pattern %q: %w", unit, p, err)
		}
	}
	return nil
}

// args is the systemctl command line of the hook.
func (h Hook) args() []string {
	if h.Restart != "" {
		return []string{"restart", h.Restart}
	}
	return []string{"reload", h.Reload}
}

// matches says whether one of the changed paths triggers h.
func (h Hook) matches(changed []string) bool {
	for _, c := range changed {
		for _, p := range h.When {
			if dir, ok := strings.CutSuffix(p, "/"); ok && strings.HasPrefix(c, dir+"/") {
				return true
			}
			if ok, _ := path.Match(p, c); ok {
				return true
			}
		}
	}
	return false
}

func (s Settings) limits() archive.Limits {
	return archive.Limits{Entries: s.Limits.Entries, Bytes: s.Limits.Bytes, Ratio: s.Limits.Ratio}
}

func (s Settings) blobLimit() int64 {
	if s.Limits.Blob > 0 {
		return s.Limits.Blob
	}
	return DefaultBlobLimit
}

// checkPin checks the policy key against the settings' pin, if any.
func (s Settings) checkPin(pub *ecdsa.PublicKey) error {
	if s.PolicyKey == "" {
		return nil
	}
	fp, err := blob.Fingerprint(pub)
	if err != nil {
		return err
	}
	if !strings.EqualFold(hex.EncodeToString(fp[:]), s.PolicyKey) {
		return fmt.Errorf("%w: the TPM's policy key is %x, the settings pin %s", ErrPolicyKeyPin, fp, s.PolicyKey)
	}
	return nil
}
