// Package archivetest builds .tgz archives for tests, well-formed or
// hostile (entries a packer would never write, gzip bombs), as
// net/http/httptest builds servers. It imports testing: no command may
// import it.
package archivetest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"testing"
)

// Entry is one raw tar entry: the header as given, and Data (or Size
// zeros when Data is empty).
type Entry struct {
	Header tar.Header
	Data   string
}

// File is a regular file entry.
func File(name, data string) Entry {
	return Entry{Header: tar.Header{Name: name, Typeflag: tar.TypeReg}, Data: data}
}

// Typed is an entry of type typ with a link name (links) or none.
func Typed(name string, typ byte, link string) Entry {
	return Entry{Header: tar.Header{Name: name, Typeflag: typ, Linkname: link}}
}

// Tgz builds a .tgz of the entries exactly as given (mode 0644 where
// the header has none).
func Tgz(t testing.TB, entries ...Entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := e.Header
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if e.Data != "" {
			h.Size = int64(len(e.Data))
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if e.Data != "" {
			tw.Write([]byte(e.Data))
		} else if h.Typeflag == tar.TypeReg && h.Size > 0 {
			tw.Write(make([]byte, h.Size))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	return buf.Bytes()
}

// EmptyFiles is a .tgz of n empty files.
func EmptyFiles(t testing.TB, n int) []byte {
	t.Helper()
	entries := make([]Entry, n)
	for i := range entries {
		entries[i] = Entry{Header: tar.Header{Name: fmt.Sprintf("f%06d", i), Typeflag: tar.TypeReg}}
	}
	return Tgz(t, entries...)
}

// Bomb returns a .tgz of total bytes of zeros in files equal parts,
// made without ever holding or compressing them whole: gzip readers read
// concatenated members as one stream, so each file is its header's
// member and copies of one member of 1 MiB of zeros.
func Bomb(t testing.TB, total int64, files int) []byte {
	t.Helper()
	const mib = 1 << 20
	var zeros bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&zeros, gzip.BestCompression)
	zw.Write(make([]byte, mib))
	zw.Close()
	per := total / int64(files) / mib * mib
	var out bytes.Buffer
	hz, _ := gzip.NewWriterLevel(&out, gzip.BestSpeed) // reset for each member
	for i := range files {
		var hb bytes.Buffer
		tw := tar.NewWriter(&hb)
		if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("zero%05d", i), Typeflag: tar.TypeReg, Mode: 0o644, Size: per}); err != nil {
			t.Fatal(err)
		}
		tw.Flush()
		member(hz, &out, hb.Bytes())
		for range per / mib {
			out.Write(zeros.Bytes())
		}
	}
	member(hz, &out, make([]byte, 1024)) // tar's end: two zero blocks
	return out.Bytes()
}

// member appends b to out as one gzip member, reusing zw's state.
func member(zw *gzip.Writer, out *bytes.Buffer, b []byte) {
	zw.Reset(out)
	zw.Write(b)
	zw.Close()
}
