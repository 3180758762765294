package flavor

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/bootlog"
	"tep.dev/tep/attest/ima"
	"tep.dev/tep/attest/report"
	"tep.dev/tep/attest/runtime"
)

// Rule names in reports.
const (
	RulePCRMatches        = "pcr_matches"
	RuleEventlogEquals    = "eventlog_equals"
	RuleEventlogIncludes  = "eventlog_includes"
	RuleEventlogIntegrity = "eventlog_integrity"
	RuleTPMFirmware       = "tpm_firmware_equals"
	RuleRuntimePolicy     = "ima_runtime_policy"
	RuleFlavorSignature   = "flavor_signature_trusted"
	RuleFlavorPresent     = "flavor_part_present"
)

// Host is a host's verified evidence, as the verifier has checked it
// (quote, boot-log replay, IMA replay) before flavors are applied.
type Host struct {
	ID    string
	Facts attest.HostFacts
	// PCRs are the quoted PCR values.
	PCRs []attest.PCRBank
	// EventLog holds what bootlog.Verify verified of the boot log, by
	// bank; EventLogFaults are the faults it returned. Both are empty
	// when the host sent no boot log.
	EventLog       map[string]bootlog.Verified
	EventLogFaults []attest.Fault
	// IMA holds the IMA entries accepted for the report (those that
	// replayed to the quoted PCR 10).
	IMA []ima.Entry
}

func (h *Host) pcr(p PCR) []byte {
	for _, b := range h.PCRs {
		if b.Bank == p.Bank {
			return b.Values[p.Index]
		}
	}
	return nil
}

// Evaluate applies one flavor to the host and returns each rule's
// result.
func (f *Flavor) Evaluate(h *Host) []report.Rule { return f.evaluate(h, nil, nil) }

// evaluate is Evaluate with the runtime policy compiled beforehand (rc,
// or rcErr from compiling it); with neither, it is compiled here.
func (f *Flavor) evaluate(h *Host, rc *runtime.Checker, rcErr error) []report.Rule {
	var out []report.Rule
	add := func(name string, p *PCR, faults []attest.Fault) {
		r := report.Rule{Name: name, Part: string(f.Meta.Part), FlavorID: f.Meta.ID, Trusted: len(faults) == 0, Faults: faults}
		if p != nil {
			i := p.Index
			r.PCR, r.Bank = &i, p.Bank
		}
		out = append(out, r)
	}
	if f.Meta.TPMFirmware != "" {
		var faults []attest.Fault
		if h.Facts.TPMFirmware != f.Meta.TPMFirmware {
			faults = append(faults, attest.Fault{Name: attest.FaultFirmwareMismatch,
				Description: "TPM firmware version differs from the flavor's",
				Expected:    f.Meta.TPMFirmware, Actual: h.Facts.TPMFirmware})
		}
		add(RuleTPMFirmware, nil, faults)
	}
	for i := range f.PCRs {
		r := &f.PCRs[i]
		if r.PCRMatches {
			add(RulePCRMatches, &r.PCR, pcrMatches(h, r))
		}
		if r.EventlogEquals != nil || r.EventlogIncludes != nil {
			events, faults := integrity(h, r.PCR)
			add(RuleEventlogIntegrity, &r.PCR, faults)
			if r.EventlogEquals != nil {
				add(RuleEventlogEquals, &r.PCR, equals(events, faults, r))
			}
			if r.EventlogIncludes != nil {
				add(RuleEventlogIncludes, &r.PCR, includes(events, faults, r))
			}
		}
	}
	if f.Runtime != nil {
		add(RuleRuntimePolicy, nil, runtimeFaults(h, f, rc, rcErr))
	}
	return out
}

// pcrFaultName is SecL's mismatch fault for a bank.
func pcrFaultName(bank string) string {
	switch bank {
	case "sha1":
		return attest.FaultPcrValueMismatchSHA1
	case "sha384":
		return attest.FaultPcrValueMismatchSHA384
	}
	return attest.FaultPcrValueMismatchSHA256
}

func pcrMatches(h *Host, r *PCRRule) []attest.Fault {
	idx := r.PCR.Index
	got := h.pcr(r.PCR)
	if got == nil {
		return []attest.Fault{{Name: attest.FaultPcrValueMissing, PCR: &idx, Bank: r.PCR.Bank,
			Description: fmt.Sprintf("PCR %d (%s) was not quoted", idx, r.PCR.Bank), Expected: r.Measurement}}
	}
	if actual := hex.EncodeToString(got); !strings.EqualFold(actual, r.Measurement) {
		return []attest.Fault{{Name: pcrFaultName(r.PCR.Bank), PCR: &idx, Bank: r.PCR.Bank,
			Description: fmt.Sprintf("PCR %d (%s) differs from the flavor", idx, r.PCR.Bank),
			Expected:    strings.ToLower(r.Measurement), Actual: actual}}
	}
	return nil
}

// integrity is the event-log integrity rule: the PCR's events in the
// bank, or the faults that keep them from being trusted.
func integrity(h *Host, p PCR) ([]bootlog.Event, []attest.Fault) {
	idx := p.Index
	v, ok := h.EventLog[p.Bank]
	if ok && v.Has(p.Index) {
		var out []bootlog.Event
		for _, e := range v.Events {
			if e.PCR == p.Index {
				out = append(out, e)
			}
		}
		return out, nil
	}
	var faults []attest.Fault
	for _, f := range h.EventLogFaults {
		if (f.PCR == nil || *f.PCR == idx) && (f.Bank == "" || f.Bank == p.Bank) {
			faults = append(faults, f)
		}
	}
	if faults != nil {
		return nil, faults
	}
	if len(h.EventLog) == 0 && len(h.EventLogFaults) == 0 {
		return nil, []attest.Fault{{Name: attest.FaultPcrEventLogMissing, PCR: &idx, Bank: p.Bank,
			Description: "the host sent no boot event log"}}
	}
	return nil, []attest.Fault{{Name: attest.FaultPcrEventLogInvalid, PCR: &idx, Bank: p.Bank,
		Description: fmt.Sprintf("the boot event log does not verify PCR %d in %s", idx, p.Bank)}}
}

// key identifies an event for comparison: type and digest.
func key(typ uint32, measurement string) string {
	return fmt.Sprintf("%#x:%s", typ, strings.ToLower(measurement))
}

func hostKeys(events []bootlog.Event, exclude []string) []string {
	var out []string
	for _, e := range events {
		if !excluded(e.Tags, exclude) {
			out = append(out, key(e.Type, hex.EncodeToString(e.Digest)))
		}
	}
	return out
}

func excluded(tags, exclude []string) bool {
	for _, t := range tags {
		if slices.Contains(exclude, t) {
			return true
		}
	}
	return false
}

// missing returns the keys of want not in have, as multisets.
func missing(want, have []string) []string {
	left := map[string]int{}
	for _, k := range have {
		left[k]++
	}
	var out []string
	for _, k := range want {
		if left[k] > 0 {
			left[k]--
			continue
		}
		out = append(out, k)
	}
	return out
}

func equals(events []bootlog.Event, integrityFaults []attest.Fault, r *PCRRule) []attest.Fault {
	idx := r.PCR.Index
	if integrityFaults != nil {
		return untrustedLog(integrityFaults, r.PCR)
	}
	var want []string
	for _, e := range r.EventlogEquals.Events {
		if !excluded(e.Tags, r.EventlogEquals.ExcludeTags) {
			want = append(want, key(e.TypeID, e.Measurement))
		}
	}
	have := hostKeys(events, r.EventlogEquals.ExcludeTags)
	var faults []attest.Fault
	if m := missing(want, have); m != nil {
		faults = append(faults, eventFault(attest.FaultPcrEventLogMissingExpectedEntries, r.PCR,
			fmt.Sprintf("PCR %d (%s) event log lacks %d expected events", idx, r.PCR.Bank, len(m)), m, nil))
	}
	if u := missing(have, want); u != nil {
		faults = append(faults, eventFault(attest.FaultPcrEventLogContainsUnexpected, r.PCR,
			fmt.Sprintf("PCR %d (%s) event log has %d unexpected events", idx, r.PCR.Bank, len(u)), nil, u))
	}
	return faults
}

func includes(events []bootlog.Event, integrityFaults []attest.Fault, r *PCRRule) []attest.Fault {
	if integrityFaults != nil {
		return untrustedLog(integrityFaults, r.PCR)
	}
	var want []string
	for _, e := range r.EventlogIncludes {
		want = append(want, key(e.TypeID, e.Measurement))
	}
	if m := missing(want, hostKeys(events, nil)); m != nil {
		return []attest.Fault{eventFault(attest.FaultPcrEventLogMissingExpectedEntries, r.PCR,
			fmt.Sprintf("PCR %d (%s) event log lacks %d expected events", r.PCR.Index, r.PCR.Bank, len(m)), m, nil)}
	}
	return nil
}

// untrustedLog is the fault of an event-log rule whose log did not pass
// the integrity rule: named as that rule's first fault.
func untrustedLog(integrityFaults []attest.Fault, p PCR) []attest.Fault {
	return []attest.Fault{eventFault(integrityFaults[0].Name, p, "events cannot be compared: the event log is not trusted", nil, nil)}
}

// eventFault lists events as "TYPE:digest" in Expected or Actual.
func eventFault(name string, p PCR, desc string, expected, actual []string) attest.Fault {
	idx := p.Index
	return attest.Fault{Name: name, PCR: &idx, Bank: p.Bank, Description: desc,
		Expected: strings.Join(expected, ","), Actual: strings.Join(actual, ",")}
}

func runtimeFaults(h *Host, f *Flavor, c *runtime.Checker, err error) []attest.Fault {
	if c == nil && err == nil {
		c, err = f.Runtime.Compile()
	}
	if err != nil {
		return []attest.Fault{{Name: attest.FaultIMALogInvalid, Description: "flavor " + f.Meta.ID + ": " + err.Error()}}
	}
	return c.Check(h.IMA)
}
