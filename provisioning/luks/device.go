package luks

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"time"

	"tep.dev/tep/provisioning"
	"tep.dev/tep/provisioning/device"
	"tep.dev/tep/provisioning/pcrpolicy"
	"tep.dev/tep/tpm"
)

// passphraseBytes is how many random bytes the TPM draws for a new
// passphrase; it is sealed base64-encoded (44 characters), so that it can
// be typed at a recovery console.
const passphraseBytes = 32

// Device is the device side of tep-luks: the TPM that holds the sealed
// passphrase and the partition it opens. Its zero Volume runs cryptsetup;
// its zero StateDir is DefaultStateDir; a nil Log discards progress.
type Device struct {
	TPM      *tpm.TPM
	Volume   Volume
	StateDir string
	Log      io.Writer
	// Mapping says whether device-mapper is there to open and mount the
	// volume; nil asks MappingAvailable.
	Mapping func() bool
}

// Result says what setup or unlock did.
type Result struct {
	// Action is "formatted", "unlocked" or "revoked".
	Action string `json:"action"`
	Device string `json:"device"`
	// Mapped and Mount say whether the volume was opened and where it
	// was mounted; Note says why not, when device-mapper is missing.
	Mapped bool   `json:"mapped"`
	Mount  string `json:"mount,omitempty"`
	Note   string `json:"note,omitempty"`
	Timing Timing `json:"timing"`
	// Counter is the revocation counter after revoke.
	Counter uint64 `json:"counter,omitempty"`
}

func (d *Device) volume() Volume {
	if d.Volume == nil {
		return Cryptsetup{}
	}
	return d.Volume
}

func (d *Device) logf(format string, a ...any) {
	if d.Log != nil {
		fmt.Fprintf(d.Log, format+"\n", a...)
	}
}

func (d *Device) canMap() bool {
	if d.Mapping == nil {
		return MappingAvailable()
	}
	return d.Mapping()
}

// Verify checks cfg in software against the policy key in NV: the
// signer's fingerprint and key type, the authorized policy of that key,
// and the signature over the approved policy.
func (d *Device) Verify(cfg *Config) (*ecdsa.PublicKey, Policy, error) {
	p, err := cfg.Policy()
	if err != nil {
		return nil, Policy{}, err
	}
	key, err := device.PolicyKey(d.TPM)
	if err != nil {
		return nil, Policy{}, err
	}
	kind, err := keyKind(key)
	if err != nil {
		return nil, Policy{}, err
	}
	fp, err := pcrpolicy.Fingerprint(key)
	if err != nil {
		return nil, Policy{}, err
	}
	if !bytes.Equal(fp[:], p.Signer) || cfg.SignerKey != kind {
		return nil, Policy{}, fmt.Errorf("%w: the configuration was signed by a %s key with fingerprint %x; this device's policy key (NV 0x%08x) is %s with fingerprint %x",
			ErrSignature, cfg.SignerKey, p.Signer, uint32(provisioning.PolicyKeyIndex), kind, fp)
	}
	name, err := pcrpolicy.KeyName(key)
	if err != nil {
		return nil, Policy{}, err
	}
	if !bytes.Equal(pcrpolicy.Authorized(name), p.Authorized) {
		return nil, Policy{}, fmt.Errorf("%w: authorized_policy %x is not the policy key's (%x)", ErrConfig, p.Authorized, pcrpolicy.Authorized(name))
	}
	if err := pcrpolicy.Verify(key, p.Approved, p.Signature); err != nil {
		return nil, Policy{}, fmt.Errorf("%w: the signature over approved_policy does not verify with the policy key %x", ErrSignature, fp)
	}
	digest, err := cfg.ConfigDigest()
	if err != nil {
		return nil, Policy{}, err
	}
	if !ecdsa.VerifyASN1(key, digest, p.ConfigSignature) {
		return nil, Policy{}, fmt.Errorf("%w: config_signature does not verify with the policy key %x: a field was changed after signing", ErrSignature, fp)
	}
	return key, p, nil
}

// checkState compares the TPM's state with cfg before the TPM is asked to
// unseal, so that a refusal names its cause: a revoked epoch, or the PCRs
// that moved.
func (d *Device) checkState(cfg *Config, p Policy) error {
	counter, defined, err := device.ReadCounter(d.TPM, provisioning.LUKSRevocationIndex)
	if err != nil {
		return err
	}
	if !defined || counter == 0 {
		return fmt.Errorf("the revocation counter NV 0x%08x is not started; run tep-luks setup", uint32(provisioning.LUKSRevocationIndex))
	}
	if counter > cfg.Epoch {
		return fmt.Errorf("%w: its epoch %d is below the revocation counter (%d); sign a new configuration with --epoch %d or more",
			ErrRevoked, cfg.Epoch, counter, counter)
	}
	cur, err := readPCRs(d.TPM, p.Values)
	if err != nil {
		return err
	}
	var moved []string
	for i, pcr := range p.Values.PCRs {
		if !bytes.Equal(cur[i], p.Values.Digests[i]) {
			moved = append(moved, fmt.Sprintf("PCR %d (signed %x, now %x)", pcr, p.Values.Digests[i], cur[i]))
		}
	}
	if len(moved) > 0 {
		return fmt.Errorf("%w in the %s bank: %s", ErrPCRMismatch, p.Values.Bank, strings.Join(moved, "; "))
	}
	return nil
}

// unseal verifies cfg and unseals the passphrase under it.
func (d *Device) unseal(cfg *Config) ([]byte, Timing, error) {
	key, p, err := d.Verify(cfg)
	if err != nil {
		return nil, Timing{}, err
	}
	if err := d.checkState(cfg, p); err != nil {
		return nil, Timing{}, err
	}
	return unsealPassphrase(d.TPM, key, p, cfg.Epoch)
}

// Unlock verifies cfg, unseals the passphrase and opens and mounts the
// volume (or, without device-mapper, checks that the passphrase opens
// it). It never formats.
func (d *Device) Unlock(ctx context.Context, cfg *Config) (Result, error) {
	c := cfg.withDefaults()
	pass, tm, err := d.unseal(cfg)
	if err != nil {
		return Result{}, err
	}
	defer clear(pass)
	start := time.Now()
	ok, err := d.volume().IsLUKS(ctx, c.Device)
	if err != nil {
		return Result{}, err
	}
	if !ok {
		return Result{}, fmt.Errorf("%s has no LUKS header; run tep-luks setup", c.Device)
	}
	isLUKS := time.Since(start)
	r := Result{Action: "unlocked", Device: c.Device, Timing: tm}
	err = d.open(ctx, &c, pass, &r, false)
	r.Timing.Cryptsetup += isLUKS
	return r, err
}

// open maps, makes a filesystem if new and mkfs is set (setup), and mounts
// the volume, or where device-mapper is missing checks the passphrase and
// says so.
func (d *Device) open(ctx context.Context, c *Config, pass []byte, r *Result, mkfs bool) error {
	start := time.Now()
	defer func() { r.Timing.Cryptsetup = time.Since(start) }()
	if !d.canMap() {
		ok, err := d.volume().TestPassphrase(ctx, c.Device, pass)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: %s", ErrForeignLUKS, c.Device)
		}
		r.Note = "device-mapper is not available (the kernel lists no device-mapper in /proc/misc): the mapping and mount step was not run; " +
			"the passphrase was checked with cryptsetup open --test-passphrase"
		d.logf("%s", r.Note)
		return nil
	}
	if err := mapAndMount(ctx, d.volume(), c, pass, mkfs); err != nil {
		return err
	}
	r.Mapped, r.Mount = true, c.Mount
	return nil
}

// newPassphrase draws a passphrase from the TPM's generator.
func (d *Device) newPassphrase() ([]byte, error) {
	raw, err := d.TPM.GetRandom(passphraseBytes)
	if err != nil {
		return nil, fmt.Errorf("drawing a passphrase: %w", err)
	}
	defer clear(raw)
	pass := make([]byte, base64.StdEncoding.EncodedLen(len(raw)))
	base64.StdEncoding.Encode(pass, raw)
	return pass, nil
}

// Revoke retires every configuration older than cfg: it checks that cfg
// unseals the passphrase now (so the device cannot lock itself out), then
// raises the revocation counter to cfg's epoch.
func (d *Device) Revoke(cfg *Config) (Result, error) {
	pass, tm, err := d.unseal(cfg)
	clear(pass)
	if err != nil {
		return Result{}, fmt.Errorf("the new configuration must unlock before older ones are revoked: %w", err)
	}
	if err := device.RaiseCounter(d.TPM, provisioning.LUKSRevocationIndex, cfg.Epoch); err != nil {
		return Result{}, fmt.Errorf("raising the revocation counter: %w", err)
	}
	return Result{Action: "revoked", Device: cfg.Device, Counter: cfg.Epoch, Timing: tm}, nil
}
