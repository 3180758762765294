package luks

import (
	"bytes"
	"os"
	"reflect"
	"testing"
)

// FuzzDecode: no input panics the strict decoder, and what it accepts
// encodes and decodes again to the same configuration.
func FuzzDecode(f *testing.F) {
	seed, err := os.ReadFile("testdata/luks_config_file.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte("version: 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Decode(bytes.NewReader(data))
		if err != nil {
			return
		}
		again, err := c.Encode()
		if err != nil {
			t.Fatalf("Encode of a decoded configuration: %v", err)
		}
		c2, err := Decode(bytes.NewReader(again))
		if err != nil {
			t.Fatalf("Decode(Encode(c)): %v\n%s", err, again)
		}
		if !reflect.DeepEqual(c, c2) {
			t.Fatalf("Decode(Encode(c)) = %+v, want %+v", c2, c)
		}
	})
}

// TestDecodeSeed: the seed in testdata, a real file of tep-luks sign,
// decodes.
func TestDecodeSeed(t *testing.T) {
	seed, err := os.ReadFile("testdata/luks_config_file.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(bytes.NewReader(seed)); err != nil {
		t.Fatal(err)
	}
}
