package config

import (
	"crypto/ecdsa"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"tep.dev/tep/provisioning/archive"
	"tep.dev/tep/provisioning/blob"
)

// Defaults of Options.
const (
	DefaultBlob = "/home/update/upload/mnt/tep_user_config_data.bin"
	DefaultDest = "/opt/tep-config"
)

// Device is the TPM side of apply: the policy key, the epoch counter and
// the decryption keys. TPMDevice is the real one.
type Device interface {
	// PolicyKey returns the policy-signing public key.
	PolicyKey() (*ecdsa.PublicKey, error)
	// Epoch returns the epoch of the last blob applied (0 before any).
	Epoch() (uint64, error)
	// RaiseEpoch raises the counter to to; it can never go down.
	RaiseEpoch(to uint64) error
	blob.Decrypter
}

// Options say what Apply and Rollback work on. The zero value applies
// DefaultBlob to DefaultDest with no hooks.
type Options struct {
	// Blob is the blob file; its directory holds applied/ and rejected/.
	Blob string
	// Dest is the configuration directory that Apply replaces; the
	// previous one is kept beside it as Dest.previous.
	Dest string
	// SettingsFile, when set, is read by Apply and Rollback as their
	// first step (LoadSettings) and replaces Settings.
	SettingsFile string
	// Settings are the device's own rules, when SettingsFile is empty.
	Settings Settings
	// Systemctl is the program hooks run (default "systemctl").
	Systemctl string
	// Now stamps records; nil means time.Now.
	Now func() time.Time
	// Progress, when not nil, gets progress lines for large blobs (the
	// command passes stderr when it is a terminal).
	Progress io.Writer
}

func (o Options) withDefaults() Options {
	if o.Blob == "" {
		o.Blob = DefaultBlob
	}
	if o.Dest == "" {
		o.Dest = DefaultDest
	}
	o.Dest = filepath.Clean(o.Dest)
	if o.Systemctl == "" {
		o.Systemctl = "systemctl"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Timings split an apply's time by step, for tep-bench and --json.
type Timings struct {
	Read    time.Duration `json:"read_ns"`
	Verify  time.Duration `json:"verify_ns"`
	Decrypt time.Duration `json:"decrypt_ns"`
	Extract time.Duration `json:"extract_ns"`
	Total   time.Duration `json:"total_ns"`
}

// Result is what Apply did; it is also the record beside the blob in
// applied/ or rejected/, and tep-config apply --json's output.
type Result struct {
	// Status is "applied" or "rejected".
	Status string `json:"status"`
	// Step and Error say where and why a blob was rejected.
	Step  Step   `json:"step,omitempty"`
	Error string `json:"error,omitempty"`
	Blob  string `json:"blob"`
	// Record is the path the blob was moved to.
	Record string `json:"record,omitempty"`
	Epoch  uint64 `json:"epoch,omitempty"`
	Mode   string `json:"mode,omitempty"`
	// Signer is the hex SHA-256 fingerprint of the signing key.
	Signer string `json:"signer,omitempty"`
	Dest   string `json:"dest"`
	// Changed lists the paths added, removed or modified.
	Changed []string `json:"changed,omitempty"`
	// Hooks lists the systemctl commands run.
	Hooks   [][]string `json:"hooks,omitempty"`
	Time    time.Time  `json:"time"`
	Timings Timings    `json:"timings"`
}

// Apply applies the blob as the package documentation says. On failure
// it returns the result (rejected, with the step) and a *StepError.
func Apply(dev Device, o Options) (*Result, error) {
	o = o.withDefaults()
	r := &Result{Blob: o.Blob, Dest: o.Dest, Time: o.Now().UTC()}
	start := time.Now()
	unlock, err := lockDest(o.Dest)
	if err != nil {
		return r, fail(StepRead, err)
	}
	defer unlock()
	err = apply(dev, o, r)
	r.Timings.Total = time.Since(start)
	if err != nil {
		r.Status, r.Error = "rejected", err.Error()
		if se, ok := err.(*StepError); ok {
			r.Step = se.Step
		}
		r.Record = record(o, r, "rejected")
		return r, err
	}
	r.Status = "applied"
	r.Record = record(o, r, "applied")
	return r, nil
}

func apply(dev Device, o Options, r *Result) error {
	if o.SettingsFile != "" {
		s, err := LoadSettings(o.SettingsFile)
		if err != nil {
			return fail(StepSettings, err)
		}
		o.Settings = s
	}
	t := time.Now()
	raw, err := readBlob(o.Blob, o.Settings.blobLimit())
	if err != nil {
		return fail(StepRead, err)
	}
	if _, err := blob.Parse(raw); err != nil {
		return fail(StepRead, err)
	}
	r.Timings.Read, t = time.Since(t), time.Now()
	pub, err := dev.PolicyKey()
	if err != nil {
		return fail(StepVerify, err)
	}
	if err := o.Settings.checkPin(pub); err != nil {
		return fail(StepVerify, err)
	}
	v, err := blob.Verify(raw, pub)
	if err != nil {
		return fail(StepVerify, err)
	}
	r.Timings.Verify = time.Since(t)
	r.Epoch, r.Mode, r.Signer = v.Epoch, v.Mode.String(), hex.EncodeToString(v.Signer[:])
	last, err := dev.Epoch()
	if err != nil {
		return fail(StepEpoch, err)
	}
	if v.Epoch <= last {
		return fail(StepEpoch, fmt.Errorf("%w: blob epoch %d, last applied %d", ErrReplay, v.Epoch, last))
	}
	if v.Epoch-last > MaxEpochStep {
		return fail(StepEpoch, fmt.Errorf("%w: blob epoch %d, last applied %d, at most %d more allowed", ErrEpochJump, v.Epoch, last, MaxEpochStep))
	}
	t = time.Now()
	tgz, err := blob.Decrypt(v, dev, o.progress("decrypting"))
	if err != nil {
		return fail(StepDecrypt, err)
	}
	r.Timings.Decrypt, t = time.Since(t), time.Now()
	staging, err := stage(tgz, o)
	if err != nil {
		return fail(StepExtract, err)
	}
	defer os.RemoveAll(staging)
	r.Timings.Extract = time.Since(t)
	return install(dev, o, r, staging, v.Epoch)
}

// install swaps staging in, runs the hooks and raises the counter; if a
// hook or the counter fails it swaps the previous configuration back.
func install(dev Device, o Options, r *Result, staging string, epoch uint64) error {
	changed, err := diff(o.Dest, staging)
	if err != nil {
		return fail(StepSwap, err)
	}
	r.Changed = changed
	sw, err := swapIn(staging, o.Dest)
	if err != nil {
		return fail(StepSwap, err)
	}
	hooks, err := runHooks(o, changed)
	r.Hooks = hooks
	if err != nil {
		return fail(StepHooks, undo(sw, err))
	}
	if err := dev.RaiseEpoch(epoch); err != nil {
		return fail(StepCommit, undo(sw, err))
	}
	if err := sw.keepPrevious(); err != nil {
		return fail(StepCommit, fmt.Errorf("applied and counted, but keeping the previous configuration failed: %w", err))
	}
	return nil
}

func undo(sw *swap, err error) error {
	if uerr := sw.undo(); uerr != nil {
		return fmt.Errorf("%w; putting the previous configuration back failed too: %v", err, uerr)
	}
	return err
}

// readBlob reads at most limit bytes of the blob file: a regular file in
// its folder (openBlob), so that the upload user cannot make root read a
// file elsewhere or block on a FIFO.
func readBlob(name string, limit int64) ([]byte, error) {
	root, err := os.OpenRoot(filepath.Dir(name))
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := openBlob(root, filepath.Base(name))
	if err != nil {
		return nil, fmt.Errorf("opening the blob: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than the %d-byte limit", name, limit)
	}
	return b, nil
}

// stage extracts tgz into a fresh staging directory beside the
// destination, on its file system so that the swap is a rename.
func stage(tgz []byte, o Options) (string, error) {
	parent := filepath.Dir(o.Dest)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp(parent, "."+filepath.Base(o.Dest)+".staging-")
	if err != nil {
		return "", err
	}
	if _, err := archive.Extract(tgz, dir, o.Settings.limits()); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// progress returns a progress callback writing to o.Progress, or nil.
func (o Options) progress(what string) func(done, total int) {
	if o.Progress == nil {
		return nil
	}
	return func(done, total int) {
		fmt.Fprintf(o.Progress, "\r%s: %d/%d MiB", what, done>>20, total>>20)
		if done == total {
			fmt.Fprintln(o.Progress)
		}
	}
}
