package runtime_test

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/ima"
	"tep.dev/tep/attest/ima/imagen"
	"tep.dev/tep/attest/runtime"
)

func generated(t testing.TB, n int) (*imagen.Generator, []ima.Entry) {
	t.Helper()
	g, err := imagen.New(imagen.Config{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	g.Append(n)
	es, err := ima.Parse(g.Log(), ima.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return g, es
}

func policyOf(g *imagen.Generator) runtime.Policy {
	var p runtime.Policy
	p.Meta.Version = 1
	p.Digests = map[string][]string{}
	for _, f := range g.Files() {
		p.Digests[f.Path] = append(p.Digests[f.Path], hex.EncodeToString(f.Digest))
	}
	return p
}

func compile(t testing.TB, p runtime.Policy) *runtime.Checker {
	t.Helper()
	c, err := p.Compile()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCheckAllowed(t *testing.T) {
	g, es := generated(t, 300)
	if f := compile(t, policyOf(g)).Check(es); f != nil {
		t.Errorf("Check with every file allowed = %v, want none", f)
	}
	if f := compile(t, runtime.FromEntries(es)).Check(es); f != nil {
		t.Errorf("Check with the policy FromEntries = %v, want none", f)
	}
}

func TestCheckUnknownAndChanged(t *testing.T) {
	g, es := generated(t, 30)
	p := policyOf(g)
	unknown := g.Files()[4].Path
	delete(p.Digests, unknown)
	changed := g.Files()[7]
	p.Digests[changed.Path] = []string{strings.Repeat("ab", 32)}
	faults := compile(t, p).Check(es)
	if len(faults) != 2 {
		t.Fatalf("Check = %v, want 2 faults", faults)
	}
	if f := faults[0]; f.Name != attest.FaultIMAFileUnknown || f.File != unknown {
		t.Errorf("fault 0 = %+v, want %s naming %s", f, attest.FaultIMAFileUnknown, unknown)
	}
	if f := faults[1]; f.Name != attest.FaultIMAFileDigest || f.File != changed.Path ||
		f.Expected != strings.Repeat("ab", 32) || f.Actual != changed.Algo+":"+hex.EncodeToString(changed.Digest) {
		t.Errorf("fault 1 = %+v, want %s naming %s with both digests", f, attest.FaultIMAFileDigest, changed.Path)
	}
	// Excluding them silences both.
	p.Excludes = []string{"/usr/lib/tep-gen/[0-9a-f]+/file-[47]$"}
	if f := compile(t, p).Check(es); f != nil {
		t.Errorf("Check with both excluded = %v, want none", f)
	}
	// An exclude is anchored at the start, as Keylime's re.match.
	p.Excludes = []string{"file-[47]$"}
	if f := compile(t, p).Check(es); len(f) != 2 {
		t.Errorf("Check with an unanchored exclude = %v, want 2 faults", f)
	}
}

func TestCheckFaultLimit(t *testing.T) {
	_, es := generated(t, 400)
	var p runtime.Policy
	faults := compile(t, p).Check(es)
	if len(faults) != runtime.MaxFaults+1 || !strings.Contains(faults[runtime.MaxFaults].Description, "more") {
		t.Errorf("Check with an empty policy = %d faults, want %d and a summary", len(faults), runtime.MaxFaults+1)
	}
}

// keyEntry is an ima-buf entry: a key measured into keyring.
func keyEntry(t *testing.T, keyring string, key []byte) ima.Entry {
	t.Helper()
	d := sha256.Sum256(key)
	var data []byte
	for _, f := range [][]byte{append([]byte("sha256:\x00"), d[:]...), append([]byte(keyring), 0), key} {
		data = binary.LittleEndian.AppendUint32(data, uint32(len(f)))
		data = append(data, f...)
	}
	e := ima.Entry{PCR: 10, TemplateHash: [20]byte{1}, Template: ima.TemplateIMABuf, Data: data}
	es, err := ima.Parse(e.Append(nil), ima.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return es[0]
}

func TestCheckKeyrings(t *testing.T) {
	key := []byte("a DER certificate")
	d := sha256.Sum256(key)
	es := []ima.Entry{keyEntry(t, ".ima", key), keyEntry(t, ".builtin_trusted_keys", []byte("other"))}
	var p runtime.Policy
	p.Keyrings = map[string][]string{".ima": {hex.EncodeToString(d[:])}}
	faults := compile(t, p).Check(es)
	if len(faults) != 1 || faults[0].File != "keyring:.builtin_trusted_keys" || faults[0].Name != attest.FaultIMAFileUnknown {
		t.Fatalf("Check = %v, want one fault for .builtin_trusted_keys", faults)
	}
	p.IMA.IgnoredKeyrings = []string{".builtin_trusted_keys"}
	if f := compile(t, p).Check(es); f != nil {
		t.Errorf("Check with the keyring ignored = %v", f)
	}
	p.Keyrings[".ima"] = []string{strings.Repeat("00", 32)}
	if f := compile(t, p).Check(es); len(f) != 1 || f[0].Name != attest.FaultIMAFileDigest {
		t.Errorf("Check with another .ima key = %v, want one %s", f, attest.FaultIMAFileDigest)
	}
	p.IMA.IgnoredKeyrings = []string{"*"}
	if f := compile(t, p).Check(es); f != nil {
		t.Errorf("Check with every keyring ignored = %v", f)
	}
}

func TestParsePolicy(t *testing.T) {
	good := `{"meta":{"version":1},"release":0,"digests":{"/bin/sh":["` + strings.Repeat("ab", 32) + `"]},
		"excludes":["/tmp/.*"],"keyrings":{},"ima":{"ignored_keyrings":["*"],"log_hash_alg":"sha1"}}`
	p, err := runtime.Parse([]byte(good))
	if err != nil || len(p.Digests["/bin/sh"]) != 1 || p.Excludes[0] != "/tmp/.*" {
		t.Fatalf("Parse = %+v, %v", p, err)
	}
	for name, bad := range map[string]string{
		"not json":      `{"meta":`,
		"version 2":     `{"meta":{"version":2}}`,
		"no version":    `{}`,
		"digests shape": `{"meta":{"version":1},"digests":{"/bin/sh":"ab"}}`,
	} {
		if _, err := runtime.Parse([]byte(bad)); !errors.Is(err, runtime.ErrPolicy) {
			t.Errorf("Parse(%s) = %v, want ErrPolicy", name, err)
		}
	}
	for name, p := range map[string]runtime.Policy{
		"bad hex":     {Digests: map[string][]string{"/bin/sh": {"zz"}}},
		"short":       {Digests: map[string][]string{"/bin/sh": {"abcd"}}},
		"bad regexp":  {Excludes: []string{"("}},
		"keyring hex": {Keyrings: map[string][]string{".ima": {"q"}}},
	} {
		if _, err := p.Compile(); !errors.Is(err, runtime.ErrPolicy) {
			t.Errorf("Compile(%s) = %v, want ErrPolicy", name, err)
		}
	}
}
