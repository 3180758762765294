package ima_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/ima"
	"tep.dev/tep/attest/ima/imagen"
)

var allBanks = []string{"sha1", "sha256", "sha384", "sha512"}

func generate(t testing.TB, n int) *imagen.Generator {
	t.Helper()
	g, err := imagen.New(imagen.Config{Banks: allBanks, Seed: 7, ViolationEvery: 11})
	if err != nil {
		t.Fatal(err)
	}
	g.Append(n)
	return g
}

func quoted(g *imagen.Generator) []attest.PCRBank {
	var q []attest.PCRBank
	for _, b := range allBanks {
		q = append(q, attest.PCRBank{Bank: b, Values: map[int][]byte{10: g.PCR10(b), 0: make([]byte, 32)}})
	}
	return q
}

func parse(t testing.TB, log []byte) []ima.Entry {
	t.Helper()
	es, err := ima.Parse(log, ima.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func TestParseTemplates(t *testing.T) {
	g := generate(t, 40)
	es := parse(t, g.Log())
	if len(es) != 40 {
		t.Fatalf("Parse = %d entries, want 40", len(es))
	}
	seen := map[string]bool{}
	violations, sigs := 0, 0
	for _, e := range es {
		seen[e.Template] = true
		if e.Violation() {
			violations++
		}
		if len(e.Sig) > 0 {
			sigs++
		}
	}
	for _, tmpl := range []string{ima.TemplateIMA, ima.TemplateIMANG, ima.TemplateIMASig} {
		if !seen[tmpl] {
			t.Errorf("no %s entry in the generated log", tmpl)
		}
	}
	if violations != 3 || sigs == 0 {
		t.Errorf("violations, signatures = %d, %d; want 3, > 0", violations, sigs)
	}
	files := g.Files()
	if string(es[0].Name) != "boot_aggregate" || string(es[1].Name) != files[1].Path ||
		es[1].HashAlgo != files[1].Algo || !bytes.Equal(es[1].FileDigest, files[1].Digest) {
		t.Errorf("entry 1 = %s %s:%x, want %s %s:%x", es[1].Name, es[1].HashAlgo, es[1].FileDigest, files[1].Path, files[1].Algo, files[1].Digest)
	}
	legacy := es[2]
	if legacy.Template != ima.TemplateIMA || legacy.HashAlgo != "sha1" || string(legacy.Name) != files[2].Path {
		t.Errorf("entry 2 = %s %s %s, want ima sha1 %s", legacy.Template, legacy.HashAlgo, legacy.Name, files[2].Path)
	}
	var out []byte
	for i := range es {
		out = es[i].Append(out)
	}
	if !bytes.Equal(out, g.Log()) {
		t.Error("Append of the parsed entries differs from the log")
	}
}

func TestReplayMatchesGenerator(t *testing.T) {
	g := generate(t, 200)
	s, err := ima.NewState(allBanks...)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Extend(parse(t, g.Log())); err != nil {
		t.Fatal(err)
	}
	for _, b := range allBanks {
		if got, want := s.Value(b), g.PCR10(b); !bytes.Equal(got, want) {
			t.Errorf("replay %s = %x, want %x", b, got, want)
		}
	}
	if s.Entries != 200 {
		t.Errorf("Entries = %d, want 200", s.Entries)
	}
}

func TestReplayIncremental(t *testing.T) {
	g := generate(t, 100)
	s, _ := ima.NewState(allBanks...)
	if n, f := s.Replay(parse(t, g.Log()), quoted(g)); n != 100 || f != nil {
		t.Fatalf("Replay = %d, %v; want 100, nil", n, f)
	}
	tail, err := ima.Split(g.Log(), 100)
	if err != nil || len(tail) != 0 {
		t.Fatalf("Split(log, 100) = %d bytes, %v; want 0, nil", len(tail), err)
	}
	g.Append(50)
	tail, err = ima.Split(g.Log(), 100)
	if err != nil {
		t.Fatal(err)
	}
	if n, f := s.Replay(parse(t, tail), quoted(g)); n != 50 || f != nil {
		t.Fatalf("incremental Replay = %d, %v; want 50, nil", n, f)
	}
	if s.Entries != 150 {
		t.Errorf("Entries = %d, want 150", s.Entries)
	}
	if _, err := ima.Split(g.Log(), 151); !errors.Is(err, ima.ErrOutOfRange) {
		t.Errorf("Split past the end = %v, want ErrOutOfRange", err)
	}
	if n, err := ima.Count(g.Log()); n != 150 || err != nil {
		t.Errorf("Count = %d, %v; want 150, nil", n, err)
	}
}

// TestReplayLogAheadOfQuote: entries logged after the quote are left for
// the next report.
func TestReplayLogAheadOfQuote(t *testing.T) {
	g := generate(t, 30)
	q := quoted(g)
	g.Append(5)
	s, _ := ima.NewState(allBanks...)
	if n, f := s.Replay(parse(t, g.Log()), q); n != 30 || f != nil {
		t.Fatalf("Replay = %d, %v; want 30, nil", n, f)
	}
}

func TestReplayTampered(t *testing.T) {
	g := generate(t, 30)
	q := quoted(g)
	cases := map[string]func([]ima.Entry) []ima.Entry{
		"changed": func(es []ima.Entry) []ima.Entry {
			// Another digest with a template hash to match: only the
			// PCR shows it.
			es[5].FileDigest[0] ^= 1
			fixTemplateHash(t, &es[5])
			return es
		},
		"changed, template hash kept": func(es []ima.Entry) []ima.Entry {
			es[5].FileDigest[0] ^= 1
			return es
		},
		"removed": func(es []ima.Entry) []ima.Entry { return append(es[:7], es[8:]...) },
		"reordered": func(es []ima.Entry) []ima.Entry {
			es[3], es[4] = es[4], es[3]
			return es
		},
		"violation hidden": func(es []ima.Entry) []ima.Entry {
			es[11].TemplateHash = [20]byte{1}
			fixTemplateHash(t, &es[11])
			return es
		},
	}
	for name, tamper := range cases {
		t.Run(name, func(t *testing.T) {
			log := bytes.Clone(g.Log())
			es := tamper(parse(t, log))
			s, _ := ima.NewState(allBanks...)
			n, faults := s.Replay(es, q)
			if n != 0 || len(faults) == 0 {
				t.Fatalf("Replay = %d, %v; want 0 and faults", n, faults)
			}
			for _, f := range faults {
				if f.Name != attest.FaultIMAReplayMismatch && f.Name != attest.FaultIMALogInvalid {
					t.Errorf("fault %s, want %s or %s", f.Name, attest.FaultIMAReplayMismatch, attest.FaultIMALogInvalid)
				}
			}
			if s.Entries != 0 || !bytes.Equal(s.Value("sha256"), make([]byte, 32)) {
				t.Error("a failed Replay changed the state")
			}
		})
	}
}

// fixTemplateHash gives e the SHA-1 template hash of its data, as an
// attacker who edits an entry would.
func fixTemplateHash(t *testing.T, e *ima.Entry) {
	t.Helper()
	copy(e.TemplateHash[:], templateSHA1(e))
	s, _ := ima.NewState("sha1")
	if err := s.Extend([]ima.Entry{*e}); err != nil {
		t.Fatalf("entry with a fixed template hash: %v", err)
	}
}

func TestReplayPCRMismatch(t *testing.T) {
	g := generate(t, 20)
	q := quoted(g)
	q[1].Values[10] = bytes.Repeat([]byte{0xAB}, 32)
	s, _ := ima.NewState(allBanks...)
	n, faults := s.Replay(parse(t, g.Log()), q)
	if n != 0 || len(faults) != len(allBanks) {
		t.Fatalf("Replay = %d, %d faults; want 0, %d", n, len(faults), len(allBanks))
	}
	f := faults[1]
	if f.Name != attest.FaultIMAReplayMismatch || f.Bank != "sha256" || *f.PCR != 10 ||
		f.Expected != hex.EncodeToString(q[1].Values[10]) || f.Actual != hex.EncodeToString(g.PCR10("sha256")) {
		t.Errorf("fault = %+v", f)
	}
	delete(q[2].Values, 10)
	if _, faults := s.Replay(parse(t, g.Log()), q); len(faults) != 1 || faults[0].Name != attest.FaultPcrValueMissing {
		t.Errorf("Replay without a quoted sha384 PCR 10 = %v, want one %s", faults, attest.FaultPcrValueMissing)
	}
}

func TestParseLimits(t *testing.T) {
	g := generate(t, 10)
	_, err := ima.Parse(g.Log(), ima.Limits{MaxEntries: 9})
	if !errors.Is(err, ima.ErrTooMany) || ima.ParseFault(err).Name != attest.FaultEvidenceTooLarge {
		t.Errorf("Parse of 10 entries with MaxEntries 9 = %v, want ErrTooMany (EvidenceTooLarge)", err)
	}
	_, err = ima.Parse(g.Log(), ima.Limits{MaxData: 40})
	if !errors.Is(err, ima.ErrFieldSize) || ima.ParseFault(err).Name != attest.FaultEvidenceTooLarge {
		t.Errorf("Parse with MaxData 40 = %v, want ErrFieldSize (EvidenceTooLarge)", err)
	}
	_, err = ima.Parse(g.Log()[:30], ima.Limits{})
	if f := ima.ParseFault(err); f.Name != attest.FaultIMALogInvalid {
		t.Errorf("ParseFault(%v) = %s, want %s", err, f.Name, attest.FaultIMALogInvalid)
	}
}

func TestParseMalformed(t *testing.T) {
	good := generate(t, 3).Log()
	e0 := parse(t, good)[0]
	entryLen := len(e0.Append(nil))
	cases := map[string]struct {
		log  []byte
		want error
	}{
		"truncated header":  {good[:20], ima.ErrTruncated},
		"truncated data":    {good[:entryLen-1], ima.ErrTruncated},
		"empty name":        {patch(good, 24, 0, 0, 0, 0), ima.ErrMalformed},
		"long name":         {patch(good, 24, 200, 0, 0, 0), ima.ErrMalformed},
		"huge data length":  {patch(good, 34, 0xff, 0xff, 0xff, 0xff), ima.ErrFieldSize},
		"field overrun":     {patch(good, 38, 0xff, 0, 0, 0), ima.ErrMalformed},
		"ima-ng, 3 fields":  {threeFields(e0), ima.ErrMalformed},
		"name without NUL":  {patch(good, entryLen-1, 'x'), ima.ErrMalformed},
		"digest prefix bad": {patch(good, 48, 0), ima.ErrMalformed},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := ima.Parse(c.log, ima.Limits{}); !errors.Is(err, c.want) {
				t.Errorf("Parse = %v, want %v", err, c.want)
			}
		})
	}
}

// patch returns a copy of b with bytes at off replaced by p.
func patch(b []byte, off int, p ...byte) []byte {
	c := bytes.Clone(b)
	copy(c[off:], p)
	return c
}

// threeFields returns e, an ima-ng entry, with an empty third field.
func threeFields(e ima.Entry) []byte {
	e.Data = append(bytes.Clone(e.Data), 0, 0, 0, 0)
	return e.Append(nil)
}

func TestStateBanks(t *testing.T) {
	if _, err := ima.NewState(); !errors.Is(err, ima.ErrBank) {
		t.Errorf("NewState() = %v, want ErrBank", err)
	}
	if _, err := ima.NewState("sha256", "md5"); !errors.Is(err, ima.ErrBank) {
		t.Errorf("NewState(sha256, md5) = %v, want ErrBank", err)
	}
	g := generate(t, 3)
	var empty ima.State
	if n, f := empty.Replay(parse(t, g.Log()), quoted(g)); n != 0 || len(f) != 1 || f[0].Name != attest.FaultIMALogInvalid {
		t.Errorf("Replay on a state with no bank = %d, %v; want one %s", n, f, attest.FaultIMALogInvalid)
	}
	bad := ima.State{Banks: []ima.Bank{{Name: "sha256", Value: []byte{1}}}}
	if err := bad.Extend(parse(t, g.Log())); err == nil {
		t.Error("Extend of a state with a short sha256 value succeeded")
	}
}
