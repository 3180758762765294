package channel

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// fuzzSeeds adds every file under testdata/ whose name starts with prefix.
func fuzzSeeds(f *testing.F, prefix string) {
	paths, _ := filepath.Glob(filepath.Join("testdata", prefix+"*"))
	if len(paths) == 0 {
		f.Fatalf("no seeds testdata/%s*", prefix)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// fuzzKeys are fixed keys, so a seed sealed under them opens.
func fuzzKeys() *Keys {
	var k [32]byte
	copy(k[:], "tep channel fuzz key, 32 bytes!!")
	return &Keys{send: gcmOf(k), recv: gcmOf(k)}
}

// FuzzOpen: no input panics OpenNext; what opens seals back to the same
// bytes.
func FuzzOpen(f *testing.F) {
	fuzzSeeds(f, "sealed-")
	f.Fuzz(func(t *testing.T, b []byte) {
		k := fuzzKeys()
		in := bytes.Clone(b)
		n, fn, body, err := k.OpenNext([]byte("hdr"), 1, in)
		if err != nil {
			return
		}
		body = bytes.Clone(body)
		if again := k.Seal(nil, []byte("hdr"), n, fn, body); !bytes.Equal(again, b) {
			t.Fatalf("Seal(Open(% x)) = % x", b, again)
		}
	})
}

// FuzzAccept: no first message panics the server's side.
func FuzzAccept(f *testing.F) {
	fuzzSeeds(f, "msg1-")
	key, err := GenerateKey(bytes.NewReader(bytes.Repeat([]byte{3}, 32)))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		msg2, keys, err := Accept(key, testID, b, nil, nil)
		if err == nil && (keys == nil || len(msg2) == 0) {
			t.Fatal("Accept succeeded without an answer")
		}
	})
}

// FuzzFinish: no answer panics the client's side.
func FuzzFinish(f *testing.F) {
	fuzzSeeds(f, "msg2-")
	// A failed Finish leaves the handshake as it was, so one serves
	// every input: make fuzz's budget of inputs then costs no key
	// generation per input.
	var h *ClientHandshake
	f.Fuzz(func(t *testing.T, b []byte) {
		if h == nil {
			var err error
			if h, _, err = StartClient(testID, nil, nil); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, _, err := h.Finish(b); err == nil {
			h = nil // finished: the next input needs a new handshake
		}
	})
}

// TestWriteSeeds rewrites the fuzz seeds with -update.
func TestWriteSeeds(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite testdata/")
	}
	k := fuzzKeys()
	key, _ := GenerateKey(nil)
	_, msg1, _ := StartClient(testID, nil, nil)
	msg2, _, _ := Accept(key, testID, msg1, nil, nil)
	files := map[string][]byte{
		"sealed-empty": k.Seal(nil, []byte("hdr"), 1, 7, nil),
		"sealed-call":  k.Seal(nil, []byte("hdr"), 1, 0x42, []byte{0x92, 0x01, 0xc4, 0x02, 0xab, 0xcd}),
		"sealed-large": k.Seal(nil, []byte("hdr"), 1, 3, bytes.Repeat([]byte{0x7f}, 300)),
		"msg1-valid":   msg1,
		"msg1-short":   msg1[:20],
		"msg2-valid":   msg2,
		"msg2-short":   msg2[:40],
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join("testdata", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
