package flavor

import (
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/runtime"
)

// ErrTemplate is wrapped by errors about a template's content.
var ErrTemplate = errors.New("flavor template invalid")

// Condition tests one host fact ("hostname", "os", "kernel",
// "tpm_vendor", "tpm_firmware"). Set exactly one of Equals, Prefix and
// Matches (a Go regular expression that must match the whole fact).
type Condition struct {
	Fact    string `json:"fact"`
	Equals  string `json:"equals,omitempty"`
	Prefix  string `json:"prefix,omitempty"`
	Matches string `json:"matches,omitempty"`
}

// RuleTemplate says which rules to make for one PCR, in each of Banks
// the golden host quoted.
type RuleTemplate struct {
	PCR              int      `json:"index"`
	Banks            []string `json:"banks"`
	PCRMatches       bool     `json:"pcr_matches,omitempty"`
	EventlogEquals   bool     `json:"eventlog_equals,omitempty"`
	ExcludeTags      []string `json:"exclude_tags,omitempty"`
	EventlogIncludes bool     `json:"eventlog_includes,omitempty"`
}

// PartTemplate is one part of a template.
type PartTemplate struct {
	Rules []RuleTemplate `json:"pcr_rules,omitempty"`
	// FirmwareVersion records the golden host's TPM firmware version
	// in the flavor, so that hosts must report the same one.
	FirmwareVersion bool `json:"tpm_firmware,omitempty"`
	// RuntimePolicy makes the IMA part's runtime policy from the golden
	// host's IMA log, with Excludes added.
	RuntimePolicy bool     `json:"runtime_policy,omitempty"`
	Excludes      []string `json:"excludes,omitempty"`
}

// Template says which flavor parts to make for the hosts whose facts
// meet all its conditions.
type Template struct {
	ID         string                `json:"id"`
	Label      string                `json:"label"`
	Conditions []Condition           `json:"conditions,omitempty"`
	Parts      map[Part]PartTemplate `json:"flavor_parts"`
}

func fact(f attest.HostFacts, name string) (string, error) {
	switch name {
	case "hostname":
		return f.Hostname, nil
	case "os":
		return f.OS, nil
	case "kernel":
		return f.Kernel, nil
	case "tpm_vendor":
		return f.TPMVendor, nil
	case "tpm_firmware":
		return f.TPMFirmware, nil
	}
	return "", fmt.Errorf("%w: unknown fact %q", ErrTemplate, name)
}

// Applies reports whether every condition of t holds for facts.
func (t *Template) Applies(facts attest.HostFacts) (bool, error) {
	for _, c := range t.Conditions {
		v, err := fact(facts, c.Fact)
		if err != nil {
			return false, err
		}
		var ok bool
		switch {
		case c.Equals != "" && c.Prefix == "" && c.Matches == "":
			ok = v == c.Equals
		case c.Prefix != "" && c.Equals == "" && c.Matches == "":
			ok = strings.HasPrefix(v, c.Prefix)
		case c.Matches != "" && c.Equals == "" && c.Prefix == "":
			re, err := regexp.Compile("^(?:" + c.Matches + ")$")
			if err != nil {
				return false, fmt.Errorf("%w: condition on %s: %v", ErrTemplate, c.Fact, err)
			}
			ok = re.MatchString(v)
		default:
			return false, fmt.Errorf("%w: condition on %s needs exactly one of equals, prefix, matches", ErrTemplate, c.Fact)
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

// Import makes flavors from a golden host's verified evidence with the
// templates whose conditions it meets: one flavor per part, the parts of
// several templates merged. HOST_UNIQUE flavors name the golden host.
// The caller signs and stores them.
func Import(golden *Host, templates []Template, at time.Time) ([]Flavor, error) {
	byPart := map[Part]*Flavor{}
	var labels []string
	for i := range templates {
		t := &templates[i]
		ok, err := t.Applies(golden.Facts)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", t.ID, err)
		}
		if !ok {
			continue
		}
		labels = append(labels, t.Label)
		for _, part := range []Part{Platform, OS, HostUnique, IMA} {
			pt, ok := t.Parts[part]
			if !ok {
				continue
			}
			f := byPart[part]
			if f == nil {
				// Whole seconds: a store that keeps times to the
				// microsecond gives back what was signed.
				f = &Flavor{Meta: Meta{Part: part, Source: golden.ID, Created: at.UTC().Truncate(time.Second)}}
				if part == HostUnique {
					f.Meta.HostID = golden.ID
				}
				byPart[part] = f
			}
			if err := fill(f, golden, pt); err != nil {
				return nil, fmt.Errorf("template %s, part %s: %w", t.ID, part, err)
			}
		}
	}
	if len(byPart) == 0 {
		return nil, fmt.Errorf("importing flavors from %s: no template applies to its facts", golden.ID)
	}
	var out []Flavor
	for _, part := range []Part{Platform, OS, HostUnique, IMA} {
		if f := byPart[part]; f != nil {
			f.Meta.Label = strings.Join(labels, "+")
			f.Meta.ID = ContentID(*f)
			out = append(out, *f)
		}
	}
	return out, nil
}

// fill adds a part template's rules to f from the golden host.
func fill(f *Flavor, golden *Host, pt PartTemplate) error {
	if pt.FirmwareVersion {
		f.Meta.TPMFirmware = golden.Facts.TPMFirmware
	}
	if pt.RuntimePolicy {
		p := runtime.FromEntries(golden.IMA)
		p.Excludes = append(p.Excludes, pt.Excludes...)
		if _, err := p.Compile(); err != nil {
			return err
		}
		f.Runtime = &p
	}
	for _, rt := range pt.Rules {
		for _, bank := range rt.Banks {
			p := PCR{Index: rt.PCR, Bank: bank}
			v := golden.pcr(p)
			if v == nil {
				continue
			}
			if slices.ContainsFunc(f.PCRs, func(r PCRRule) bool { return r.PCR == p }) {
				return fmt.Errorf("%w: PCR %d (%s) in two templates", ErrTemplate, p.Index, bank)
			}
			r := PCRRule{PCR: p, Measurement: hex.EncodeToString(v), PCRMatches: rt.PCRMatches}
			if rt.EventlogEquals || rt.EventlogIncludes {
				events, faults := integrity(golden, p)
				if faults != nil {
					return fmt.Errorf("golden host's event log for PCR %d (%s): %s", p.Index, bank, faults[0].Description)
				}
				var evs []Event
				for _, e := range events {
					if !excluded(e.Tags, rt.ExcludeTags) {
						evs = append(evs, Event{TypeID: e.Type, TypeName: e.TypeName, Tags: e.Tags, Measurement: hex.EncodeToString(e.Digest)})
					}
				}
				if rt.EventlogEquals {
					r.EventlogEquals = &EventlogEquals{Events: evs, ExcludeTags: rt.ExcludeTags}
				}
				if rt.EventlogIncludes {
					r.EventlogIncludes = evs
				}
			}
			f.PCRs = append(f.PCRs, r)
		}
	}
	return nil
}
