package flavor_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/flavor"
)

// partFlavors imports from a golden host and keeps the flavors of part.
func partFlavors(t *testing.T, spec hostSpec, at time.Time, part flavor.Part) []flavor.Signed {
	t.Helper()
	var out []flavor.Signed
	for _, s := range imported(t, host(t, spec), at) {
		if s.Flavor.Meta.Part == part {
			out = append(out, s)
		}
	}
	return out
}

func TestMatchPolicies(t *testing.T) {
	old := partFlavors(t, hostSpec{firmware: "a"}, t0, flavor.Platform)
	newer := partFlavors(t, hostSpec{firmware: "b"}, t0.Add(time.Hour), flavor.Platform)
	oldLater := partFlavors(t, hostSpec{firmware: "a"}, t0.Add(2*time.Hour), flavor.Platform)
	os := partFlavors(t, hostSpec{}, t0, flavor.OS)
	h := host(t, hostSpec{firmware: "b"})
	platform := func(m flavor.MatchType, r flavor.Required) flavor.Group {
		return flavor.Group{Name: "g", Policies: []flavor.MatchPolicy{{Part: flavor.Platform, Match: m, Required: r}}}
	}
	withOS := func(g flavor.Group) flavor.Group {
		g.Policies = append(g.Policies, flavor.MatchPolicy{Part: flavor.OS, Match: flavor.AnyOf, Required: flavor.Require})
		return g
	}
	cases := map[string]struct {
		group   flavor.Group
		flavors []flavor.Signed
		trusted bool
		faults  []string
	}{
		"ANY_OF, one of two matches":  {platform(flavor.AnyOf, flavor.Require), concat(old, newer), true, nil},
		"ANY_OF, none matches":        {platform(flavor.AnyOf, flavor.Require), old, false, []string{attest.FaultPcrEventLogContainsUnexpected, attest.FaultPcrEventLogMissingExpectedEntries, attest.FaultPcrValueMismatchSHA256, attest.FaultPcrValueMismatchSHA384}},
		"ALL_OF, one of two matches":  {platform(flavor.AllOf, flavor.Require), concat(old, newer), false, []string{attest.FaultPcrEventLogContainsUnexpected, attest.FaultPcrEventLogMissingExpectedEntries, attest.FaultPcrValueMismatchSHA256, attest.FaultPcrValueMismatchSHA384}},
		"ALL_OF, both match":          {platform(flavor.AllOf, flavor.Require), concat(newer, partFlavors(t, hostSpec{firmware: "b"}, t0.Add(3*time.Hour), flavor.Platform)), true, nil},
		"LATEST, the newest matches":  {platform(flavor.Latest, flavor.Require), concat(old, newer), true, nil},
		"LATEST, an older matches":    {platform(flavor.Latest, flavor.Require), concat(newer, oldLater), false, []string{attest.FaultPcrEventLogContainsUnexpected, attest.FaultPcrEventLogMissingExpectedEntries, attest.FaultPcrValueMismatchSHA256, attest.FaultPcrValueMismatchSHA384}},
		"REQUIRED, none defined":      {withOS(platform(flavor.AnyOf, flavor.Require)), os, false, []string{attest.FaultFlavorMissing}},
		"REQUIRED_IF_DEFINED, none":   {withOS(platform(flavor.AnyOf, flavor.RequireIfDefined)), os, true, nil},
		"REQUIRED_IF_DEFINED, failed": {withOS(platform(flavor.AnyOf, flavor.RequireIfDefined)), concat(os, old), false, []string{attest.FaultPcrEventLogContainsUnexpected, attest.FaultPcrEventLogMissingExpectedEntries, attest.FaultPcrValueMismatchSHA256, attest.FaultPcrValueMismatchSHA384}},
		"no policy, nothing checked":  {flavor.Group{Name: "empty"}, concat(old, newer), false, nil},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := evaluate(h, c.group, c.flavors)
			if got := faultNames(r); r.Trusted != c.trusted || !slices.Equal(got, c.faults) {
				t.Errorf("trusted %v, faults %v; want %v, %v", r.Trusted, got, c.trusted, c.faults)
			}
		})
	}
}

func concat(a ...[]flavor.Signed) []flavor.Signed { return slices.Concat(a...) }

func TestGroupCheck(t *testing.T) {
	bad := map[string]flavor.Group{
		"part":     {Policies: []flavor.MatchPolicy{{Part: "BIOS", Match: flavor.AnyOf, Required: flavor.Require}}},
		"twice":    {Policies: []flavor.MatchPolicy{{flavor.OS, flavor.AnyOf, flavor.Require}, {flavor.OS, flavor.AllOf, flavor.Require}}},
		"match":    {Policies: []flavor.MatchPolicy{{Part: flavor.OS, Match: "SOME_OF", Required: flavor.Require}}},
		"required": {Policies: []flavor.MatchPolicy{{Part: flavor.OS, Match: flavor.AnyOf, Required: "MAYBE"}}},
	}
	for name, g := range bad {
		if err := g.Check(); !errors.Is(err, flavor.ErrGroup) {
			t.Errorf("Check(%s) = %v, want ErrGroup", name, err)
		}
		if r := evaluate(host(t, hostSpec{}), g, nil); r.Trusted || len(r.Faults) != 1 {
			t.Errorf("Evaluate with group %s: trusted %v, faults %v", name, r.Trusted, r.Faults)
		}
	}
	if g := flavor.DefaultGroup(); g.Check() != nil {
		t.Errorf("DefaultGroup().Check() = %v", g.Check())
	}
}

func TestTemplateConditions(t *testing.T) {
	facts := attest.HostFacts{OS: "Debian GNU/Linux 12 (bookworm)", Kernel: "6.1.0-28-amd64", TPMVendor: "IBM"}
	cases := []struct {
		c    flavor.Condition
		want bool
	}{
		{flavor.Condition{Fact: "os", Prefix: "Debian"}, true},
		{flavor.Condition{Fact: "os", Prefix: "Ubuntu"}, false},
		{flavor.Condition{Fact: "tpm_vendor", Equals: "IBM"}, true},
		{flavor.Condition{Fact: "kernel", Matches: `6\.1\..*`}, true},
		{flavor.Condition{Fact: "kernel", Matches: `6\.1`}, false}, // whole fact
	}
	for _, c := range cases {
		tm := flavor.Template{Conditions: []flavor.Condition{c.c}}
		if got, err := tm.Applies(facts); got != c.want || err != nil {
			t.Errorf("Applies(%+v) = %v, %v; want %v", c.c, got, err, c.want)
		}
	}
	for _, c := range []flavor.Condition{
		{Fact: "colour", Equals: "x"},
		{Fact: "os"},
		{Fact: "os", Equals: "a", Prefix: "b"},
		{Fact: "os", Matches: "("},
	} {
		tm := flavor.Template{Conditions: []flavor.Condition{c}}
		if _, err := tm.Applies(facts); !errors.Is(err, flavor.ErrTemplate) {
			t.Errorf("Applies(%+v) = %v, want ErrTemplate", c, err)
		}
	}
	golden := host(t, hostSpec{os: "Fedora Linux 41"})
	if _, err := flavor.Import(golden, []flavor.Template{template()}, t0); err == nil {
		t.Error("Import with no template applying to the host succeeded")
	}
}

func TestImportIDs(t *testing.T) {
	a := imported(t, host(t, hostSpec{}), t0)
	b := imported(t, host(t, hostSpec{}), t0)
	c := imported(t, host(t, hostSpec{firmware: "z"}), t0)
	if a[0].Flavor.Meta.ID != b[0].Flavor.Meta.ID || a[0].Flavor.Meta.ID == c[0].Flavor.Meta.ID {
		t.Errorf("IDs %s %s %s: want equal for equal content, different otherwise", a[0].Flavor.Meta.ID, b[0].Flavor.Meta.ID, c[0].Flavor.Meta.ID)
	}
	for _, s := range a {
		if s.Flavor.Meta.Part == flavor.HostUnique && s.Flavor.Meta.HostID != "edge-1" {
			t.Errorf("HOST_UNIQUE flavor for host %q, want edge-1", s.Flavor.Meta.HostID)
		}
	}
}
