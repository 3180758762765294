package simdevice

import (
	"bytes"
	"testing"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/ima"
	"tep.dev/tep/attest/ima/imagen"
)

// imagen's Generator is the load generator's log source.
var _ LogSource = (*imagen.Generator)(nil)

func newGenerator(t testing.TB, banks ...string) *imagen.Generator {
	t.Helper()
	g, err := imagen.New(imagen.Config{Banks: banks, Seed: 19})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestIMAReplay checks that a verifier's replay (package ima) of the
// devices' logs, first whole and then incrementally, reaches the quoted
// PCR 10 in every bank, and that a changed entry does not.
func TestIMAReplay(t *testing.T) {
	banks := []string{"sha256", "sha384"}
	f := newFleet(t, Config{Devices: 2, IMA: newGenerator(t, banks...), IMAEntries: 300, IMAStep: 50})
	for _, d := range f.Devices {
		state, err := ima.NewState(banks...)
		if err != nil {
			t.Fatal(err)
		}
		from := 0
		for report := range 3 {
			req := attest.QuoteRequest{Nonce: []byte{byte(report)}, PCRs: []int{0, 10}, Banks: banks, IMAFrom: from}
			ev, err := d.Evidence(req)
			if err != nil {
				t.Fatal(err)
			}
			checkQuote(t, d.Enroll(""), req.Nonce, ev)
			entries, err := ima.Parse(ev.IMALog, ima.Limits{})
			if err != nil {
				t.Fatalf("%s report %d: parsing the IMA log: %v", d.HostID, report, err)
			}
			if ev.IMAFrom != from || len(entries) != d.IMALen()-from {
				t.Errorf("%s report %d: %d entries from %d, want %d from %d", d.HostID, report, len(entries), ev.IMAFrom, d.IMALen()-from, from)
			}
			if report == 1 {
				// A changed entry (in its file path) does not replay.
				bad := bytes.Clone(ev.IMALog)
				bad[len(bad)-3] ^= 1
				badEntries, err := ima.Parse(bad, ima.Limits{})
				if err != nil {
					t.Fatalf("a changed path no longer parses: %v", err)
				}
				if _, faults := state.Clone().Replay(badEntries, ev.PCRs); len(faults) == 0 {
					t.Error("a changed entry replays to the quoted PCR 10")
				}
			}
			n, faults := state.Replay(entries, ev.PCRs)
			if len(faults) != 0 || n != len(entries) {
				t.Fatalf("%s report %d: replay took %d of %d entries: %+v", d.HostID, report, n, len(entries), faults)
			}
			from = state.Entries
		}
		if from != 400 {
			t.Errorf("%s: %d entries after three reports, want 400", d.HostID, from)
		}
	}
}
