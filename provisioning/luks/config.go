package luks

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"go.yaml.in/yaml/v3"

	"tep.dev/tep/provisioning"
	"tep.dev/tep/provisioning/pcrpolicy"
)

// Defaults for what the YAML leaves out, and the paths of the reference
// platform.
const (
	DefaultConfigPath = "/home/update/upload/mnt/luks_config_file.yaml"
	DefaultMount      = "/home/root/tep_luks_dev"
	DefaultMapping    = "tep_luks"
	DefaultStateDir   = "/var/lib/tep-luks"
	// ConfigVersion is the schema version this package writes and reads.
	ConfigVersion = 1
	// maxConfigSize bounds the YAML read before it is parsed.
	maxConfigSize = 64 << 10
)

// Config is the YAML file that `tep-luks sign` writes and the device
// reads; docs/luks.md describes each field. Decode rejects unknown fields.
type Config struct {
	Version int    `yaml:"version" json:"version"`
	Device  string `yaml:"device" json:"device"`
	// Mapping is the device-mapper name (/dev/mapper/NAME).
	Mapping string `yaml:"mapping,omitempty" json:"mapping,omitempty"`
	// Mount is where the opened volume is mounted.
	Mount string `yaml:"mount,omitempty" json:"mount,omitempty"`
	// Filesystem is made by setup on a new volume: "ext4" (the default)
	// or "none".
	Filesystem string `yaml:"filesystem,omitempty" json:"filesystem,omitempty"`
	Bank       string `yaml:"bank" json:"bank"`
	PCRs       []int  `yaml:"pcrs" json:"pcrs"`
	// PCRValues are the signed values, hexadecimal, by PCR index.
	PCRValues map[int]string `yaml:"pcr_values" json:"pcr_values"`
	// Epoch is the revocation epoch: the policy holds while the TPM's
	// revocation counter is at most Epoch.
	Epoch uint64 `yaml:"epoch" json:"epoch"`
	// Signer is the SHA-256 fingerprint of the signing key's DER
	// SubjectPublicKeyInfo, and SignerKey its type ("ecdsa-p256",
	// "ecdsa-p384"), so a mismatch can be told apart from a bad signature.
	Signer    string `yaml:"signer" json:"signer"`
	SignerKey string `yaml:"signer_key" json:"signer_key"`
	// ApprovedPolicy is PolicyPCR then PolicyNV(counter ≤ epoch);
	// AuthorizedPolicy the sealed object's PolicyAuthorize digest; both
	// hexadecimal. Signature is base64 of the DER ECDSA signature over
	// SHA-256(ApprovedPolicy).
	ApprovedPolicy   string        `yaml:"approved_policy" json:"approved_policy"`
	AuthorizedPolicy string        `yaml:"authorized_policy" json:"authorized_policy"`
	Signature        string        `yaml:"signature" json:"signature"`
	Cryptsetup       FormatOptions `yaml:"cryptsetup,omitempty" json:"cryptsetup,omitempty"`
	// ConfigSignature is base64 of the DER ECDSA signature, by the same
	// key, over ConfigDigest: it covers the fields the TPM does not check
	// (device, mapping, mount, filesystem, cryptsetup), so that whoever
	// can write the file cannot point it at another partition or mount
	// point.
	ConfigSignature string `yaml:"config_signature" json:"config_signature"`
}

// configContext separates the configuration digest from every other
// signed message.
const configContext = "tep-luks configuration v1\x00"

// ConfigDigest is SHA-256 over configContext and the JSON encoding of c
// with ConfigSignature empty: every field, in a form that does not depend
// on YAML's layout (encoding/json sorts the map's keys).
func (c *Config) ConfigDigest() ([]byte, error) {
	cp := *c
	cp.ConfigSignature = ""
	b, err := json.Marshal(cp)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	h.Write([]byte(configContext))
	h.Write(b)
	return h.Sum(nil), nil
}

// FormatOptions holds the options passed to cryptsetup luksFormat; empty
// leaves cryptsetup's own defaults.
type FormatOptions struct {
	PBKDF                string `yaml:"pbkdf,omitempty" json:"pbkdf,omitempty"`
	PBKDFForceIterations int    `yaml:"pbkdf_force_iterations,omitempty" json:"pbkdf_force_iterations,omitempty"`
	PBKDFMemoryKiB       int    `yaml:"pbkdf_memory_kib,omitempty" json:"pbkdf_memory_kib,omitempty"`
}

// Decode reads a configuration strictly: one YAML document, no unknown
// field, every required field present and every digest consistent with
// the values (Policy recomputes them). It does not check the signature,
// which needs the device's key.
func Decode(r io.Reader) (*Config, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading LUKS configuration: %w", err)
	}
	if len(data) > maxConfigSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrConfig, maxConfigSize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: more than one YAML document", ErrConfig)
	}
	if _, err := c.Policy(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Encode writes c as YAML.
func (c *Config) Encode() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("# tep-luks configuration: docs/luks.md describes every field.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}

// Policy is what a configuration's digests and signature decode to.
type Policy struct {
	Values     pcrpolicy.Values
	Approved   []byte
	Authorized []byte
	Signature  []byte
	Signer     []byte // fingerprint
	// ConfigSignature signs the configuration's digest (Config.ConfigDigest).
	ConfigSignature []byte
}

// Policy checks c's fields and decodes them; the approved policy must be
// the one that its bank, PCR values and epoch give.
func (c *Config) Policy() (Policy, error) {
	bad := func(format string, a ...any) (Policy, error) {
		return Policy{}, fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, a...))
	}
	if c.Version != ConfigVersion {
		return bad("version %d, want %d", c.Version, ConfigVersion)
	}
	if c.Device == "" {
		return bad("no device")
	}
	switch c.Filesystem {
	case "", "ext4", "none":
	default:
		return bad("filesystem %q: want ext4 or none", c.Filesystem)
	}
	v := pcrpolicy.Values{Bank: pcrpolicy.Bank(c.Bank), PCRs: c.PCRs}
	if len(c.PCRValues) != len(c.PCRs) {
		return bad("%d PCR values for PCRs %v", len(c.PCRValues), c.PCRs)
	}
	for _, p := range c.PCRs {
		s, ok := c.PCRValues[p]
		if !ok {
			return bad("no value for PCR %d", p)
		}
		d, err := hex.DecodeString(s)
		if err != nil {
			return bad("PCR %d: %v", p, err)
		}
		v.Digests = append(v.Digests, d)
	}
	if err := v.Check(); err != nil {
		return Policy{}, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	p := Policy{Values: v}
	var err error
	fields := []struct {
		name string
		in   string
		out  *[]byte
		dec  func(string) ([]byte, error)
	}{
		{"approved_policy", c.ApprovedPolicy, &p.Approved, hex.DecodeString},
		{"authorized_policy", c.AuthorizedPolicy, &p.Authorized, hex.DecodeString},
		{"signer", c.Signer, &p.Signer, hex.DecodeString},
		{"signature", c.Signature, &p.Signature, base64.StdEncoding.DecodeString},
		{"config_signature", c.ConfigSignature, &p.ConfigSignature, base64.StdEncoding.DecodeString},
	}
	for _, f := range fields {
		if *f.out, err = f.dec(f.in); err != nil || len(*f.out) == 0 {
			return bad("%s: missing or not encoded as it should be", f.name)
		}
	}
	if len(p.Approved) != pcrpolicy.DigestSize || len(p.Authorized) != pcrpolicy.DigestSize || len(p.Signer) != 32 {
		return bad("a digest or fingerprint has the wrong size")
	}
	want, err := pcrpolicy.Approved(v, pcrpolicy.CounterName(provisioning.LUKSRevocationIndex), c.Epoch)
	if err != nil {
		return Policy{}, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if !bytes.Equal(want, p.Approved) {
		return bad("approved_policy %x is not the policy of its PCR values and epoch (%x)", p.Approved, want)
	}
	return p, nil
}

// withDefaults returns a copy of c with empty fields defaulted. The
// signatures cover c as signed: verify c, not the copy.
func (c Config) withDefaults() Config {
	if c.Mapping == "" {
		c.Mapping = DefaultMapping
	}
	if c.Mount == "" {
		c.Mount = DefaultMount
	}
	if c.Filesystem == "" {
		c.Filesystem = "ext4"
	}
	c.PCRs = slices.Clone(c.PCRs)
	return c
}
