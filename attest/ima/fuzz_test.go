package ima_test

import (
	"bytes"
	"os"
	"testing"

	"tep.dev/tep/attest/ima"
)

// FuzzParse: no input panics, a parsed log encodes back to the same
// bytes, and replaying it returns rather than panics.
func FuzzParse(f *testing.F) {
	seed, err := os.ReadFile("testdata/mixed.bin")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(seed[:100])
	f.Fuzz(func(t *testing.T, log []byte) {
		es, err := ima.Parse(log, ima.Limits{MaxEntries: 1000})
		if err != nil {
			return
		}
		var out []byte
		for i := range es {
			out = es[i].Append(out)
		}
		if !bytes.Equal(out, log) {
			t.Fatalf("Append(Parse(log)) differs from log")
		}
		s, _ := ima.NewState("sha1", "sha256")
		_ = s.Extend(es)
		if n, err := ima.Count(log); err != nil || n != len(es) {
			t.Fatalf("Count = %d, %v; Parse found %d", n, err, len(es))
		}
	})
}

// TestGolden keeps testdata/mixed.bin, the fuzz seed, imagen's
// 24-entry log for seed 7; with IMA_WRITE_GOLDEN set it rewrites it.
func TestGolden(t *testing.T) {
	g := generate(t, 24)
	if os.Getenv("IMA_WRITE_GOLDEN") != "" {
		if err := os.WriteFile("testdata/mixed.bin", g.Log(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	log, err := os.ReadFile("testdata/mixed.bin")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(log, g.Log()) {
		t.Fatal("testdata/mixed.bin is not imagen's 24-entry log for seed 7; regenerate it with IMA_WRITE_GOLDEN=1")
	}
}
