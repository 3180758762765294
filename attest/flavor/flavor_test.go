package flavor_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"slices"
	"testing"
	"time"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/bootlog"
	"tep.dev/tep/attest/bootlog/bootlogtest"
	"tep.dev/tep/attest/flavor"
	"tep.dev/tep/attest/ima"
	"tep.dev/tep/attest/ima/imagen"
	"tep.dev/tep/attest/report"
)

var (
	banks   = []string{"sha256", "sha384"}
	t0      = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	signKey = mustKey()
)

func mustKey() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

// hostSpec describes a host to build evidence for.
type hostSpec struct {
	id, os, firmware, tpmFirmware, kernel string
	events                                []bootlogtest.Event
	noLog                                 bool
	imaExtra                              int
}

func defaults(s hostSpec) hostSpec {
	if s.id == "" {
		s.id = "edge-1"
	}
	if s.os == "" {
		s.os = "Debian GNU/Linux 12 (bookworm)"
	}
	if s.kernel == "" {
		s.kernel = "6.1.0-28-amd64"
	}
	if s.tpmFirmware == "" {
		s.tpmFirmware = "1.2.3.4"
	}
	if s.events == nil {
		s.events = bootlogtest.Sample(s.firmware + "1.0")
	}
	return s
}

// host builds a host's verified evidence: the boot log replayed by
// package bootlog, PCRs 8 and 9 from the kernel and host id, and an IMA
// log.
func host(t *testing.T, s hostSpec) *flavor.Host {
	t.Helper()
	s = defaults(s)
	h := &flavor.Host{ID: s.id, Facts: attest.HostFacts{Hostname: s.id, OS: s.os, Kernel: s.kernel, TPMFirmware: s.tpmFirmware}}
	for _, b := range banks {
		vals := bootlogtest.PCRs(b, s.events)
		vals[8] = digest(b, s.kernel)
		vals[9] = digest(b, s.id)
		h.PCRs = append(h.PCRs, attest.PCRBank{Bank: b, Values: vals})
	}
	if !s.noLog {
		log, err := bootlogtest.Build(banks, s.events)
		if err != nil {
			t.Fatal(err)
		}
		h.EventLog, h.EventLogFaults = bootlog.Verify(log, h.PCRs, nil)
	}
	g, err := imagen.New(imagen.Config{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	g.Append(50)
	log := g.Log()
	if s.imaExtra > 0 {
		// Entries from another generator, past its boot_aggregate.
		other, _ := imagen.New(imagen.Config{Seed: 99})
		tail, err := ima.Split(other.Append(s.imaExtra+1), 1)
		if err != nil {
			t.Fatal(err)
		}
		log = append(slices.Clone(log), tail...)
	}
	if h.IMA, err = ima.Parse(log, ima.Limits{}); err != nil {
		t.Fatal(err)
	}
	return h
}

func digest(bank, s string) []byte {
	if bank == "sha256" {
		d := sha256.Sum256([]byte(s))
		return d[:]
	}
	d := sha512.Sum384([]byte(s))
	return d[:]
}

func template() flavor.Template {
	return flavor.Template{
		ID: "debian-uefi", Label: "debian-uefi",
		Conditions: []flavor.Condition{{Fact: "os", Prefix: "Debian"}},
		Parts: map[flavor.Part]flavor.PartTemplate{
			flavor.Platform: {FirmwareVersion: true, Rules: []flavor.RuleTemplate{
				{PCR: 0, Banks: banks, PCRMatches: true, EventlogEquals: true},
				{PCR: 1, Banks: banks, EventlogEquals: true, ExcludeTags: []string{"BootOrder"}},
				{PCR: 7, Banks: banks, PCRMatches: true, EventlogIncludes: true},
			}},
			flavor.OS: {Rules: []flavor.RuleTemplate{
				{PCR: 4, Banks: banks, EventlogEquals: true},
				{PCR: 8, Banks: banks, PCRMatches: true},
			}},
			flavor.HostUnique: {Rules: []flavor.RuleTemplate{{PCR: 9, Banks: []string{"sha256"}, PCRMatches: true}}},
			flavor.IMA:        {RuntimePolicy: true, Excludes: []string{"/tmp/"}},
		},
	}
}

func imported(t *testing.T, golden *flavor.Host, at time.Time) []flavor.Signed {
	t.Helper()
	fs, err := flavor.Import(golden, []flavor.Template{template()}, at)
	if err != nil {
		t.Fatal(err)
	}
	var out []flavor.Signed
	for _, f := range fs {
		s, err := flavor.Sign(f, signKey)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func evaluate(h *flavor.Host, g flavor.Group, fs []flavor.Signed) report.Report {
	return report.New(h.ID, t0, g.Evaluate(h, fs, signKey.Public()))
}

// faultNames lists the distinct fault names of r.
func faultNames(r report.Report) []string {
	var out []string
	for _, f := range r.Faults {
		if !slices.Contains(out, f.Name) {
			out = append(out, f.Name)
		}
	}
	slices.Sort(out)
	return out
}

func TestImportAndMatch(t *testing.T) {
	golden := host(t, hostSpec{})
	fs := imported(t, golden, t0)
	if len(fs) != 4 {
		t.Fatalf("Import made %d flavors, want 4 parts", len(fs))
	}
	r := evaluate(host(t, hostSpec{}), flavor.DefaultGroup(), fs)
	if !r.Trusted {
		t.Fatalf("golden host against its own flavors: untrusted: %+v", r.Faults)
	}
	count := map[string]int{}
	for _, ru := range r.Rules {
		count[ru.Name]++
	}
	want := map[string]int{
		flavor.RuleTPMFirmware: 1, flavor.RulePCRMatches: 7, flavor.RuleEventlogIntegrity: 8,
		flavor.RuleEventlogEquals: 6, flavor.RuleEventlogIncludes: 2, flavor.RuleRuntimePolicy: 1,
	}
	if !maps(count, want) {
		t.Errorf("rules = %v, want %v", count, want)
	}
}

func maps(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestMismatches(t *testing.T) {
	fs := imported(t, host(t, hostSpec{}), t0)
	sample := bootlogtest.Sample("1.0")
	extra := append(slices.Clone(sample), bootlogtest.Event{PCR: 7, Type: bootlogtest.EvEFIVariableDriver, Data: bootlogtest.Variable("db", []byte("x"))})
	newOrder := slices.Clone(sample)
	newOrder[4] = bootlogtest.Event{PCR: 1, Type: bootlogtest.EvEFIVariableBoot, Data: bootlogtest.Variable("BootOrder", []byte{1, 0})}
	cases := map[string]struct {
		spec hostSpec
		want []string
	}{
		"firmware updated": {hostSpec{firmware: "x"}, []string{attest.FaultPcrEventLogContainsUnexpected,
			attest.FaultPcrEventLogMissingExpectedEntries, attest.FaultPcrValueMismatchSHA256, attest.FaultPcrValueMismatchSHA384}},
		// PCR 7 has eventlog_includes, so an added db event is
		// allowed by it but changes the PCR.
		"PCR 7 event added":            {hostSpec{events: extra}, []string{attest.FaultPcrValueMismatchSHA256, attest.FaultPcrValueMismatchSHA384}},
		"BootOrder changed (excluded)": {hostSpec{events: newOrder}, nil},
		"kernel changed":               {hostSpec{kernel: "6.1.0-29-amd64"}, []string{attest.FaultPcrValueMismatchSHA256, attest.FaultPcrValueMismatchSHA384}},
		"no boot log":                  {hostSpec{noLog: true}, []string{attest.FaultPcrEventLogMissing}},
		"TPM firmware":                 {hostSpec{tpmFirmware: "1.2.3.5"}, []string{attest.FaultFirmwareMismatch}},
		"unknown executable":           {hostSpec{imaExtra: 1}, []string{attest.FaultIMAFileUnknown}},
		// Another host: its HOST_UNIQUE flavor does not apply, and the
		// part is required only if defined.
		"another host": {hostSpec{id: "edge-2"}, nil},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := evaluate(host(t, c.spec), flavor.DefaultGroup(), fs)
			if got := faultNames(r); !slices.Equal(got, c.want) || r.Trusted != (c.want == nil) {
				t.Errorf("trusted %v, faults %v; want %v", r.Trusted, got, c.want)
			}
		})
	}
}

func TestMissingEntriesFault(t *testing.T) {
	fs := imported(t, host(t, hostSpec{}), t0)
	sample := bootlogtest.Sample("1.0")
	noAction := slices.DeleteFunc(slices.Clone(sample), func(e bootlogtest.Event) bool { return e.Type == bootlogtest.EvEFIAction })
	r := evaluate(host(t, hostSpec{events: noAction}), flavor.DefaultGroup(), fs)
	var got *attest.Fault
	for i, f := range r.Faults {
		if f.Name == attest.FaultPcrEventLogMissingExpectedEntries && f.Bank == "sha256" {
			got = &r.Faults[i]
		}
	}
	action := bootlogtest.Digest(sample[5], "sha256")
	if got == nil || *got.PCR != 4 || got.Expected != "0x80000007:"+hexs(action) || got.Actual != "" {
		t.Errorf("fault = %+v, want PCR 4 missing the EV_EFI_ACTION event %x", got, action)
	}
}

func TestEventLogInvalid(t *testing.T) {
	fs := imported(t, host(t, hostSpec{}), t0)
	h := host(t, hostSpec{})
	// The boot log claims firmware 1.0 but the PCRs say 1.1: replay
	// fails, and the integrity rule carries bootlog's fault.
	other := host(t, hostSpec{firmware: "y"})
	log, _ := bootlogtest.Build(banks, bootlogtest.Sample("1.0"))
	h.PCRs = other.PCRs
	h.EventLog, h.EventLogFaults = bootlog.Verify(log, h.PCRs, nil)
	r := evaluate(h, flavor.DefaultGroup(), fs)
	if !slices.Contains(faultNames(r), attest.FaultPcrEventLogInvalid) || r.Trusted {
		t.Errorf("faults %v, want %s", faultNames(r), attest.FaultPcrEventLogInvalid)
	}
}

func TestSignedFlavorTampered(t *testing.T) {
	fs := imported(t, host(t, hostSpec{}), t0)
	for i := range fs {
		if fs[i].Flavor.Meta.Part == flavor.Platform {
			// A stored row edited to accept another firmware.
			fs[i].Flavor.PCRs[0].Measurement = "00"
			if err := fs[i].Verify(signKey.Public()); !errors.Is(err, flavor.ErrSignature) {
				t.Fatalf("Verify of the changed flavor = %v, want ErrSignature", err)
			}
		}
	}
	r := evaluate(host(t, hostSpec{}), flavor.DefaultGroup(), fs)
	want := []string{attest.FaultFlavorMissing, attest.FaultFlavorSignatureNotTrusted}
	if got := faultNames(r); r.Trusted || !slices.Equal(got, want) {
		t.Errorf("trusted %v, faults %v; want %v", r.Trusted, got, want)
	}
	// A flavor signed by another key is not trusted either.
	fs = imported(t, host(t, hostSpec{}), t0)
	other, _ := flavor.Sign(fs[0].Flavor, mustKey())
	if err := other.Verify(signKey.Public()); !errors.Is(err, flavor.ErrSignature) {
		t.Errorf("Verify of a flavor signed by another key = %v", err)
	}
}

func hexs(b []byte) string { return hex.EncodeToString(b) }

func TestOtherHostsFlavorTampered(t *testing.T) {
	fs := imported(t, host(t, hostSpec{}), t0)
	other := imported(t, host(t, hostSpec{id: "edge-2"}), t0)
	for _, s := range other {
		if s.Flavor.Meta.Part == flavor.HostUnique {
			s.Flavor.PCRs[0].Measurement = "00"
			fs = append(fs, s)
		}
	}
	if r := evaluate(host(t, hostSpec{}), flavor.DefaultGroup(), fs); !r.Trusted {
		t.Errorf("a changed HOST_UNIQUE flavor of edge-2 made edge-1 untrusted: %v", r.Faults)
	}
	if r := evaluate(host(t, hostSpec{id: "edge-2"}), flavor.DefaultGroup(), fs); r.Trusted {
		t.Error("edge-2 trusted with its HOST_UNIQUE flavor changed")
	}
}

// TestEventRuleOnUnverifiedPCR: the boot log is verified for PCRs 0–7
// only, so an event-log rule on PCR 8 cannot pass, even with no events
// expected.
func TestEventRuleOnUnverifiedPCR(t *testing.T) {
	f := flavor.Flavor{Meta: flavor.Meta{ID: "os-8", Part: flavor.OS, Created: t0},
		PCRs: []flavor.PCRRule{{PCR: flavor.PCR{Index: 8, Bank: "sha256"}, EventlogEquals: &flavor.EventlogEquals{}}}}
	s, err := flavor.Sign(f, signKey)
	if err != nil {
		t.Fatal(err)
	}
	g := flavor.Group{Policies: []flavor.MatchPolicy{{Part: flavor.OS, Match: flavor.AnyOf, Required: flavor.Require}}}
	r := evaluate(host(t, hostSpec{}), g, []flavor.Signed{s})
	if got := faultNames(r); r.Trusted || !slices.Equal(got, []string{attest.FaultPcrEventLogInvalid}) {
		t.Errorf("trusted %v, faults %v; want %s", r.Trusted, got, attest.FaultPcrEventLogInvalid)
	}
}
