package profile

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestStartWritesAProfile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "cpu.prof")
	stop, err := Start(file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Start(filepath.Join(t.TempDir(), "second.prof")); err == nil {
		t.Error("a second profile started while one ran")
	}
	stop()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	// A pprof profile is a gzipped protocol buffer.
	if !bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
		t.Errorf("%s is not a pprof profile: it starts % x", file, b[:min(len(b), 8)])
	}
}

func TestStartBadPath(t *testing.T) {
	if _, err := Start(filepath.Join(t.TempDir(), "missing", "cpu.prof")); err == nil {
		t.Error("a profile into a missing directory started")
	}
}
