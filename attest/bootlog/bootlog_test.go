package bootlog_test

import (
	"bytes"
	"encoding/hex"
	"os"
	"slices"
	"testing"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/bootlog"
	"tep.dev/tep/attest/bootlog/bootlogtest"
)

var banks = []string{"sha256", "sha384"}

func build(t *testing.T, events []bootlogtest.Event) []byte {
	t.Helper()
	log, err := bootlogtest.Build(banks, events)
	if err != nil {
		t.Fatal(err)
	}
	return log
}

func quote(events []bootlogtest.Event) []attest.PCRBank {
	var q []attest.PCRBank
	for _, b := range banks {
		q = append(q, attest.PCRBank{Bank: b, Values: bootlogtest.PCRs(b, events)})
	}
	return q
}

func TestVerify(t *testing.T) {
	ev := bootlogtest.Sample("1.0")
	got, faults := bootlog.Verify(build(t, ev), quote(ev), nil)
	if faults != nil {
		t.Fatalf("Verify = %v", faults)
	}
	for _, b := range banks {
		if len(got[b].Events) != len(ev) || !slices.Equal(got[b].PCRs, bootlog.PCRs) {
			t.Fatalf("Verify: %d %s events for PCRs %v, want %d for %v", len(got[b].Events), b, got[b].PCRs, len(ev), bootlog.PCRs)
		}
	}
	e := got["sha384"].Events[0]
	if e.PCR != 0 || e.TypeName != "EV_S_CRTM_VERSION" || !slices.Contains(e.Tags, "TEP test firmware 1.0") {
		t.Errorf("event 0 = %+v, want EV_S_CRTM_VERSION tagged with the version", e)
	}
	if !bytes.Equal(e.Digest, bootlogtest.Digest(ev[0], "sha384")) {
		t.Errorf("event 0 digest = %x, want the sha384 digest", e.Digest)
	}
	secure := got["sha256"].Events[2]
	if secure.PCR != 7 || !slices.Equal(secure.Tags, []string{"EV_EFI_VARIABLE_DRIVER_CONFIG", "SecureBoot"}) {
		t.Errorf("event 2 = %+v, want the SecureBoot variable", secure)
	}
	// A bank the log lacks is not checked; one in common suffices.
	q := append(quote(ev), attest.PCRBank{Bank: "sha1", Values: map[int][]byte{0: make([]byte, 20)}})
	if _, faults := bootlog.Verify(build(t, ev), q, nil); faults != nil {
		t.Errorf("Verify with an extra sha1 bank = %v", faults)
	}
	// PCRs not quoted are not verified.
	q = withValue(quote(ev), "sha256", 0, nil)
	delete(q[0].Values, 0)
	got, _ = bootlog.Verify(build(t, ev), q, nil)
	if v := got["sha256"]; v.Has(0) || !v.Has(1) || slices.ContainsFunc(v.Events, func(e bootlog.Event) bool { return e.PCR == 0 }) {
		t.Errorf("Verify without PCR 0 quoted: PCRs %v, want 1–7 and no PCR 0 event", v.PCRs)
	}
}

func TestVerifyTampered(t *testing.T) {
	ev := bootlogtest.Sample("1.0")
	q := quote(ev)
	changed := slices.Clone(ev)
	changed[5] = bootlogtest.Event{PCR: 4, Type: bootlogtest.EvEFIAction, Data: []byte("Calling EFI Application from Boot Option!")}
	noPCR5 := slices.DeleteFunc(slices.Clone(ev), func(e bootlogtest.Event) bool { return e.PCR == 5 })
	reordered := slices.Clone(ev)
	reordered[2], reordered[3] = reordered[3], reordered[2]
	cases := map[string]struct {
		log  []byte
		q    []attest.PCRBank
		pcr  int
		bank string
	}{
		"event changed":             {build(t, changed), q, 4, ""},
		"PCR 7 events reordered":    {build(t, reordered), q, 7, ""},
		"PCR 5 events removed":      {build(t, noPCR5), q, 5, ""},
		"sha384 PCR 0 differs":      {build(t, ev), withValue(q, "sha384", 0, bytes.Repeat([]byte{1}, 48)), 0, "sha384"},
		"firmware updated, log not": {build(t, ev), quote(bootlogtest.Sample("1.1")), 0, ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got, faults := bootlog.Verify(c.log, c.q, nil)
			if len(faults) == 0 {
				t.Fatalf("Verify = %d banks of events, no fault", len(got))
			}
			for _, f := range faults {
				if f.Name != attest.FaultPcrEventLogInvalid || f.PCR == nil || *f.PCR != c.pcr || (c.bank != "" && f.Bank != c.bank) {
					t.Errorf("fault %+v, want %s for PCR %d", f, attest.FaultPcrEventLogInvalid, c.pcr)
				}
				var want []byte
				for _, b := range c.q {
					if b.Bank == f.Bank {
						want = b.Values[c.pcr]
					}
				}
				if f.Expected != hex.EncodeToString(want) || f.Actual == f.Expected {
					t.Errorf("fault expected/actual = %s/%s, want the quoted value and another", f.Expected, f.Actual)
				}
			}
		})
	}
}

func withValue(q []attest.PCRBank, bank string, pcr int, v []byte) []attest.PCRBank {
	out := make([]attest.PCRBank, len(q))
	for i, b := range q {
		vals := map[int][]byte{}
		for k, x := range b.Values {
			vals[k] = x
		}
		if b.Bank == bank {
			vals[pcr] = v
		}
		out[i] = attest.PCRBank{Bank: b.Bank, Values: vals}
	}
	return out
}

func TestVerifyMalformed(t *testing.T) {
	ev := bootlogtest.Sample("1.0")
	good := build(t, ev)
	cases := map[string]struct {
		log  []byte
		want string
	}{
		"truncated":      {good[:len(good)-3], attest.FaultPcrEventLogInvalid},
		"empty":          {nil, attest.FaultPcrEventLogInvalid},
		"garbage":        {bytes.Repeat([]byte{0xff}, 100), attest.FaultPcrEventLogInvalid},
		"oversized":      {make([]byte, bootlog.MaxLog+1), attest.FaultEvidenceTooLarge},
		"no common bank": {mustBuild(t, []string{"sha1"}, ev), attest.FaultPcrEventLogInvalid},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, faults := bootlog.Verify(c.log, quote(ev), nil)
			if len(faults) != 1 || faults[0].Name != c.want {
				t.Errorf("Verify = %v, want one %s", faults, c.want)
			}
		})
	}
}

func mustBuild(t *testing.T, banks []string, ev []bootlogtest.Event) []byte {
	t.Helper()
	log, err := bootlogtest.Build(banks, ev)
	if err != nil {
		t.Fatal(err)
	}
	return log
}

// FuzzVerify: no input panics. Seeded with testdata/sample.bin, the
// sample boot's log.
func FuzzVerify(f *testing.F) {
	log, err := os.ReadFile("testdata/sample.bin")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(log)
	q := quote(bootlogtest.Sample("1.0"))
	f.Fuzz(func(t *testing.T, log []byte) {
		bootlog.Verify(log, q, nil)
	})
}

// TestGolden keeps testdata/sample.bin the sample boot's log; with
// BOOTLOG_WRITE_GOLDEN set it rewrites it.
func TestGolden(t *testing.T) {
	log := build(t, bootlogtest.Sample("1.0"))
	if os.Getenv("BOOTLOG_WRITE_GOLDEN") != "" {
		if err := os.WriteFile("testdata/sample.bin", log, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden, err := os.ReadFile("testdata/sample.bin")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(golden, log) {
		t.Fatal("testdata/sample.bin is not the sample boot's log; regenerate it with BOOTLOG_WRITE_GOLDEN=1")
	}
}
