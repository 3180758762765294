package runtime

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/ima"
)

// MaxFaults bounds the faults one Check returns; a last fault says how
// many more there were.
const MaxFaults = 100

// ErrPolicy is wrapped by every error about a policy's content.
var ErrPolicy = errors.New("runtime policy invalid")

// Policy is a runtime policy in Keylime's JSON shape (the fields TEP
// uses; others are ignored).
type Policy struct {
	Meta struct {
		Version int `json:"version"`
	} `json:"meta"`
	Release int `json:"release"`
	// Digests lists the allowed digests (hex) for each path.
	Digests map[string][]string `json:"digests"`
	// Excludes are patterns of paths that are not checked.
	Excludes []string `json:"excludes"`
	// Keyrings lists the allowed digests of the keys measured into
	// each keyring (ima-buf entries).
	Keyrings map[string][]string `json:"keyrings"`
	IMA      struct {
		// IgnoredKeyrings are keyrings whose measurements are not
		// checked; "*" ignores all.
		IgnoredKeyrings []string `json:"ignored_keyrings"`
	} `json:"ima"`
}

// Parse reads a policy from JSON, refusing unknown versions.
func Parse(data []byte) (Policy, error) {
	var p Policy
	if err := json.Unmarshal(data, &p); err != nil {
		return Policy{}, fmt.Errorf("%w: %v", ErrPolicy, err)
	}
	if p.Meta.Version != 1 {
		return Policy{}, fmt.Errorf("%w: meta.version %d, want 1", ErrPolicy, p.Meta.Version)
	}
	return p, nil
}

// FromEntries returns a policy that allows exactly the files measured
// in entries, such as a golden host's verified log.
func FromEntries(entries []ima.Entry) Policy {
	var p Policy
	p.Meta.Version = 1
	p.Digests = map[string][]string{}
	for i := range entries {
		e := &entries[i]
		if e.Violation() || e.FileDigest == nil || e.Template == ima.TemplateIMABuf {
			continue
		}
		d := hex.EncodeToString(e.FileDigest)
		if !slices.Contains(p.Digests[string(e.Name)], d) {
			p.Digests[string(e.Name)] = append(p.Digests[string(e.Name)], d)
		}
	}
	return p
}

// Checker is a compiled Policy.
type Checker struct {
	digests    map[string][][]byte
	keyrings   map[string][][]byte
	ignoreAll  bool
	ignored    map[string]bool
	exclude    *regexp.Regexp
	allowedHex map[string]string
}

// Compile checks p and prepares it for Check.
func (p Policy) Compile() (*Checker, error) {
	c := &Checker{
		digests: map[string][][]byte{}, keyrings: map[string][][]byte{},
		ignored: map[string]bool{}, allowedHex: map[string]string{},
	}
	for path, ds := range p.Digests {
		for _, d := range ds {
			b, err := hex.DecodeString(d)
			if err != nil || len(b) < 16 {
				return nil, fmt.Errorf("%w: digest %q for %s", ErrPolicy, d, path)
			}
			c.digests[path] = append(c.digests[path], b)
		}
		c.allowedHex[path] = strings.Join(ds, ",")
	}
	for ring, ds := range p.Keyrings {
		for _, d := range ds {
			b, err := hex.DecodeString(d)
			if err != nil {
				return nil, fmt.Errorf("%w: digest %q for keyring %s", ErrPolicy, d, ring)
			}
			c.keyrings[ring] = append(c.keyrings[ring], b)
		}
	}
	for _, k := range p.IMA.IgnoredKeyrings {
		c.ignored[k] = true
		c.ignoreAll = c.ignoreAll || k == "*"
	}
	if len(p.Excludes) > 0 {
		alts := make([]string, len(p.Excludes))
		for i, x := range p.Excludes {
			if _, err := regexp.Compile(x); err != nil {
				return nil, fmt.Errorf("%w: exclude %q: %v", ErrPolicy, x, err)
			}
			alts[i] = "(?:" + x + ")"
		}
		c.exclude = regexp.MustCompile("^(?:" + strings.Join(alts, "|") + ")")
	}
	return c, nil
}

// Check returns a fault for each entry the policy does not allow.
func (c *Checker) Check(entries []ima.Entry) []attest.Fault {
	var faults []attest.Fault
	more := 0
	for i := range entries {
		f, bad := c.entry(&entries[i])
		if !bad {
			continue
		}
		if len(faults) == MaxFaults {
			more++
			continue
		}
		faults = append(faults, f)
	}
	if more > 0 {
		faults = append(faults, attest.Fault{Name: attest.FaultIMAFileUnknown,
			Description: fmt.Sprintf("and %d more IMA entries not allowed by the runtime policy", more)})
	}
	return faults
}

// entry checks one entry and returns its fault, if any.
func (c *Checker) entry(e *ima.Entry) (attest.Fault, bool) {
	if e.Violation() {
		return attest.Fault{}, false
	}
	if e.Template == ima.TemplateIMABuf && bufferDigest(e) {
		return c.keyring(e)
	}
	allowed, known := c.digests[string(e.Name)]
	for _, d := range allowed {
		if bytes.Equal(d, e.FileDigest) {
			return attest.Fault{}, false
		}
	}
	if c.exclude != nil && c.exclude.Match(e.Name) {
		return attest.Fault{}, false
	}
	actual := e.HashAlgo + ":" + hex.EncodeToString(e.FileDigest)
	if !known {
		return attest.Fault{Name: attest.FaultIMAFileUnknown, File: string(e.Name), Actual: actual,
			Description: "file measured by IMA is not in the runtime policy: " + string(e.Name)}, true
	}
	return attest.Fault{Name: attest.FaultIMAFileDigest, File: string(e.Name), Actual: actual,
		Expected:    c.allowedHex[string(e.Name)],
		Description: "file measured by IMA with a digest the runtime policy does not allow: " + string(e.Name)}, true
}

// bufferDigest reports whether an ima-buf entry's digest is its
// buffer's hash, as the kernel makes it. The template name is not in the
// template hash, so an agent can rename an ima-sig entry (three fields
// too) "ima-buf"; such an entry is checked as the file it names.
func bufferDigest(e *ima.Entry) bool {
	h, err := ima.BankHash(e.HashAlgo)
	if err != nil {
		return false
	}
	d := h.New()
	d.Write(e.Buf)
	return bytes.Equal(d.Sum(nil), e.FileDigest)
}

// keyring checks an ima-buf entry: a key measured into a keyring.
func (c *Checker) keyring(e *ima.Entry) (attest.Fault, bool) {
	if c.ignoreAll || c.ignored[string(e.Name)] {
		return attest.Fault{}, false
	}
	allowed, known := c.keyrings[string(e.Name)]
	for _, d := range allowed {
		if bytes.Equal(d, e.FileDigest) {
			return attest.Fault{}, false
		}
	}
	name := "keyring:" + string(e.Name)
	actual := e.HashAlgo + ":" + hex.EncodeToString(e.FileDigest)
	if !known {
		return attest.Fault{Name: attest.FaultIMAFileUnknown, File: name, Actual: actual,
			Description: "key measured into a keyring the runtime policy neither lists nor ignores: " + string(e.Name)}, true
	}
	return attest.Fault{Name: attest.FaultIMAFileDigest, File: name, Actual: actual,
		Description: "key measured into keyring " + string(e.Name) + " is not allowed by the runtime policy"}, true
}
