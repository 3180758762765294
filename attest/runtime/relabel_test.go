package runtime_test

import (
	"bytes"
	"testing"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/ima"
	"tep.dev/tep/attest/ima/imagen"
)

// TestCheckRelabelledBuffer is a red-team attack: the kernel does not
// hash an entry's template name, so an agent can rename an ima-sig entry
// (three fields, as ima-buf's) to "ima-buf". The log still replays to
// the quoted PCR 10, and an entry taken for a keyring measurement must
// not escape the file rules when keyrings are ignored.
func TestCheckRelabelledBuffer(t *testing.T) {
	g, err := imagen.New(imagen.Config{Seed: 9, Templates: []string{ima.TemplateIMASig}, ViolationEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	g.Append(12)
	evil := g.Files()[5].Path
	log := bytes.Clone(g.Log())
	// Find the entry naming evil and rename its template in place
	// ("ima-sig" and "ima-buf" have the same length).
	es, err := ima.Parse(log, ima.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	off := 0
	for i := range es {
		if string(es[i].Name) == evil {
			break
		}
		off += len(es[i].Append(nil))
	}
	copy(log[off+28:], ima.TemplateIMABuf)
	es, err = ima.Parse(log, ima.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := ima.NewState("sha256", "sha384")
	quoted := []attest.PCRBank{
		{Bank: "sha256", Values: map[int][]byte{ima.PCR: g.PCR10("sha256")}},
		{Bank: "sha384", Values: map[int][]byte{ima.PCR: g.PCR10("sha384")}},
	}
	if _, faults := st.Replay(es, quoted); faults != nil {
		t.Fatalf("the relabelled log does not replay (%v): the attack needs it to", faults)
	}
	p := policyOf(g)
	delete(p.Digests, evil)
	p.IMA.IgnoredKeyrings = []string{"*"}
	faults := compile(t, p).Check(es)
	if len(faults) != 1 || faults[0].File != evil {
		t.Errorf("Check of a log with %s relabelled ima-buf = %v, want one fault naming it", evil, faults)
	}
}
