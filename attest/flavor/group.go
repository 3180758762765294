package flavor

import (
	"crypto"
	"errors"
	"fmt"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/report"
)

// MatchType says how a part's flavors must match.
type MatchType string

// Required says whether a part must have a flavor.
type Required string

// Match types and requirements (SecL's names).
const (
	AnyOf  MatchType = "ANY_OF" // one of the part's flavors matches
	AllOf  MatchType = "ALL_OF" // every one of them matches
	Latest MatchType = "LATEST" // the newest one matches

	Require          Required = "REQUIRED"            // no flavor of the part: untrusted
	RequireIfDefined Required = "REQUIRED_IF_DEFINED" // no flavor of the part: not checked
)

// MatchPolicy is one part's policy in a group.
type MatchPolicy struct {
	Part     Part      `json:"flavor_part"`
	Match    MatchType `json:"match_type"`
	Required Required  `json:"required"`
}

// Group is a flavor group: the match policy of each part. Parts with no
// policy are not evaluated.
type Group struct {
	Name     string        `json:"name"`
	Policies []MatchPolicy `json:"flavor_match_policy"`
}

// ErrGroup is wrapped by errors about a group's content.
var ErrGroup = errors.New("flavor group invalid")

// DefaultGroup is SecL's automatic group: PLATFORM and OS required, any
// of their flavors; HOST_UNIQUE and IMA checked where defined.
func DefaultGroup() Group {
	return Group{Name: "automatic", Policies: []MatchPolicy{
		{Platform, AnyOf, Require},
		{OS, AnyOf, Require},
		{HostUnique, AnyOf, RequireIfDefined},
		{IMA, AnyOf, RequireIfDefined},
	}}
}

// Check validates the group's policies.
func (g *Group) Check() error {
	seen := map[Part]bool{}
	for _, p := range g.Policies {
		switch p.Part {
		case Platform, OS, HostUnique, IMA:
		default:
			return fmt.Errorf("%w: part %q", ErrGroup, p.Part)
		}
		if seen[p.Part] {
			return fmt.Errorf("%w: part %s twice", ErrGroup, p.Part)
		}
		seen[p.Part] = true
		if p.Match != AnyOf && p.Match != AllOf && p.Match != Latest {
			return fmt.Errorf("%w: match type %q", ErrGroup, p.Match)
		}
		if p.Required != Require && p.Required != RequireIfDefined {
			return fmt.Errorf("%w: required %q", ErrGroup, p.Required)
		}
	}
	return nil
}

// Evaluate applies the group's flavors to the host: each stored flavor's
// signature is checked with the verifier's public key (one that fails is
// not used and gives a FlavorSignatureNotTrusted rule, so the report is
// untrusted while the store holds a changed flavor), then each part's
// flavors are matched by its policy. Other hosts' HOST_UNIQUE flavors
// are skipped. ANY_OF reports the first flavor
// that matches, or every candidate's failed rules when none does.
// EvaluateChecked does the same with flavors checked beforehand.
func (g *Group) Evaluate(h *Host, flavors []Signed, pub crypto.PublicKey) []report.Rule {
	checked := make([]*Checked, 0, len(flavors))
	for _, s := range flavors {
		if s.Flavor.otherHost(h) {
			continue // not verified: neither used nor this host's concern
		}
		checked = append(checked, Check(s, pub))
	}
	return g.EvaluateChecked(h, checked)
}

// EvaluateChecked is Evaluate with the flavors' signatures already
// checked (by Check or a Cache): a flavor with Err gives a
// FlavorSignatureNotTrusted rule.
func (g *Group) EvaluateChecked(h *Host, flavors []*Checked) []report.Rule {
	if err := g.Check(); err != nil {
		return []report.Rule{{Name: "flavor_group_valid", Faults: []attest.Fault{{Name: attest.FaultFlavorMissing, Description: err.Error()}}}}
	}
	var out []report.Rule
	byPart := map[Part][]*Checked{}
	for _, c := range flavors {
		f := &c.Flavor
		if f.otherHost(h) {
			continue // another host's: neither used nor this host's concern
		}
		if c.Err != nil {
			out = append(out, report.Rule{Name: RuleFlavorSignature, Part: string(f.Meta.Part), FlavorID: f.Meta.ID,
				Faults: []attest.Fault{{Name: attest.FaultFlavorSignatureNotTrusted, Description: c.Err.Error()}}})
			continue
		}
		byPart[f.Meta.Part] = append(byPart[f.Meta.Part], c)
	}
	for _, p := range g.Policies {
		out = append(out, p.evaluate(h, byPart[p.Part])...)
	}
	return out
}

// otherHost says whether f is another host's HOST_UNIQUE flavor.
func (f *Flavor) otherHost(h *Host) bool {
	return f.Meta.Part == HostUnique && f.Meta.HostID != h.ID
}

func (p MatchPolicy) evaluate(h *Host, candidates []*Checked) []report.Rule {
	if len(candidates) == 0 {
		if p.Required == RequireIfDefined {
			return nil
		}
		return []report.Rule{{Name: RuleFlavorPresent, Part: string(p.Part), Faults: []attest.Fault{{
			Name: attest.FaultFlavorMissing, Description: fmt.Sprintf("no trusted %s flavor for this host", p.Part)}}}}
	}
	if p.Match == Latest {
		newest := candidates[0]
		for _, c := range candidates[1:] {
			if c.Flavor.Meta.Created.After(newest.Flavor.Meta.Created) {
				newest = c
			}
		}
		candidates = []*Checked{newest}
	}
	var all []report.Rule
	for _, c := range candidates {
		rules := c.Flavor.evaluate(h, c.runtime, c.runtimeErr)
		if p.Match == AnyOf && trusted(rules) {
			return rules
		}
		all = append(all, rules...)
	}
	return all
}

func trusted(rules []report.Rule) bool {
	for _, r := range rules {
		if !r.Trusted {
			return false
		}
	}
	return true
}
