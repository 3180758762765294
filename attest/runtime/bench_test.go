package runtime_test

import (
	"testing"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/ima"
)

func quotedPCR10(b *testing.B, banks []string, value func(string) []byte) []attest.PCRBank {
	b.Helper()
	var q []attest.PCRBank
	for _, bank := range banks {
		q = append(q, attest.PCRBank{Bank: bank, Values: map[int][]byte{ima.PCR: value(bank)}})
	}
	return q
}

// BenchmarkFirstReport is the verifier's IMA work for a first report of
// a 5,000-entry log: parse, replay into sha256 and sha384, runtime
// policy.
func BenchmarkFirstReport(b *testing.B) {
	banks := []string{"sha256", "sha384"}
	g, _ := generated(b, 5000)
	c := compile(b, policyOf(g))
	q := quotedPCR10(b, banks, g.PCR10)
	log := g.Log()
	b.ReportAllocs()
	for b.Loop() {
		es, err := ima.Parse(log, ima.Limits{})
		if err != nil {
			b.Fatal(err)
		}
		s, _ := ima.NewState(banks...)
		if n, f := s.Replay(es, q); n != 5000 || f != nil {
			b.Fatalf("Replay = %d, %v", n, f)
		}
		if f := c.Check(es); f != nil {
			b.Fatal(f)
		}
	}
}

// BenchmarkIncremental is the same for 50 new entries after 5,000
// already verified: only the new entries are parsed, replayed from the
// stored state and checked.
func BenchmarkIncremental(b *testing.B) {
	banks := []string{"sha256", "sha384"}
	g, es := generated(b, 5000)
	s, _ := ima.NewState(banks...)
	if err := s.Extend(es); err != nil {
		b.Fatal(err)
	}
	g.Append(50)
	c := compile(b, policyOf(g))
	q := quotedPCR10(b, banks, g.PCR10)
	tail, err := ima.Split(g.Log(), 5000)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		es, err := ima.Parse(tail, ima.Limits{})
		if err != nil {
			b.Fatal(err)
		}
		st := s.Clone()
		if n, f := st.Replay(es, q); n != 50 || f != nil {
			b.Fatalf("Replay = %d, %v", n, f)
		}
		if f := c.Check(es); f != nil {
			b.Fatal(f)
		}
	}
}
