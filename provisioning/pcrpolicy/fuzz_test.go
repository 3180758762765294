package pcrpolicy

import (
	"os"
	"testing"
)

// FuzzParsePCRFile: no input panics the parser, and what it accepts is a
// well-formed selection.
func FuzzParsePCRFile(f *testing.F) {
	for _, name := range []string{"testdata/pcrread.yaml", "testdata/pcr0_7_10.dat"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false)
		f.Add(b, true)
	}
	f.Fuzz(func(t *testing.T, data []byte, sha384 bool) {
		bank := SHA256
		if sha384 {
			bank = SHA384
		}
		v, err := ParsePCRFile(data, bank, []int{0, 7, 10})
		if err != nil {
			return
		}
		if err := v.Check(); err != nil {
			t.Fatalf("ParsePCRFile accepted %q: %v", data, err)
		}
	})
}
