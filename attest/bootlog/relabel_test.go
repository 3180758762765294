package bootlog_test

import (
	"encoding/hex"
	"testing"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/bootlog"
	"tep.dev/tep/attest/bootlog/bootlogtest"
	"tep.dev/tep/attest/flavor"
)

// TestRelabelledEventNotExcluded is a red-team attack by a device owner
// who rewrites its boot log: an extra boot application is measured (its
// digest stays, so the log replays to the quote) but logged as the
// "BootOrder" variable, a tag the flavor excludes because boot orders
// differ between hosts. A name read from event data whose digest is not
// the data's hash must not exclude the event.
func TestRelabelledEventNotExcluded(t *testing.T) {
	golden := bootlogtest.Sample("1.0")
	evil := bootlogtest.Event{PCR: 4, Type: bootlogtest.EvEFIVariableBoot,
		Data: bootlogtest.Variable("BootOrder", []byte{0, 0}), Digest: map[string][]byte{}}
	for _, b := range banks {
		evil.Digest[b] = bootlogtest.Digest(bootlogtest.Event{Data: []byte("an extra boot application")}, b)
	}
	host := append(append([]bootlogtest.Event{}, golden...), evil)

	var want []flavor.Event
	for _, e := range golden {
		if e.PCR == 4 {
			want = append(want, flavor.Event{TypeID: e.Type, Measurement: hex.EncodeToString(bootlogtest.Digest(e, "sha256"))})
		}
	}
	f := flavor.Flavor{Meta: flavor.Meta{ID: "p", Part: flavor.Platform}, PCRs: []flavor.PCRRule{{
		PCR:            flavor.PCR{Index: 4, Bank: "sha256"},
		EventlogEquals: &flavor.EventlogEquals{Events: want, ExcludeTags: []string{"BootOrder"}},
	}}}
	verified, faults := bootlog.Verify(build(t, host), quote(host), nil)
	if faults != nil {
		t.Fatalf("Verify of the relabelled log = %v: the attack needs it to replay", faults)
	}
	h := &flavor.Host{ID: "h", PCRs: quote(host), EventLog: verified}
	unexpected := false
	for _, r := range f.Evaluate(h) {
		for _, fl := range r.Faults {
			unexpected = unexpected || fl.Name == attest.FaultPcrEventLogContainsUnexpected
		}
	}
	if !unexpected {
		t.Errorf("eventlog_equals excluding BootOrder with an application logged as BootOrder: no %s", attest.FaultPcrEventLogContainsUnexpected)
	}
	// A real BootOrder event keeps its name.
	for _, e := range verified["sha256"].Events {
		if e.PCR == 1 && e.Type == bootlogtest.EvEFIVariableBoot && !contains(e.Tags, "BootOrder") {
			t.Errorf("the genuine BootOrder event's tags = %v", e.Tags)
		}
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
