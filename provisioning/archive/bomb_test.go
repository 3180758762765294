package archive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"syscall"
	"testing"
)

// Bomb returns a .tgz of total bytes of zeros in files equal parts, made
// without ever holding or compressing them whole: gzip readers read
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
	for i := range files {
		var hb bytes.Buffer
		tw := tar.NewWriter(&hb)
		if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("zero%05d", i), Typeflag: tar.TypeReg, Mode: 0o644, Size: per}); err != nil {
			t.Fatal(err)
		}
		tw.Flush()
		member(&out, hb.Bytes())
		for range per / mib {
			out.Write(zeros.Bytes())
		}
	}
	member(&out, make([]byte, 1024)) // tar's end: two zero blocks
	return out.Bytes()
}

func member(out *bytes.Buffer, b []byte) {
	zw := gzip.NewWriter(out)
	zw.Write(b)
	zw.Close()
}

func mkfifo(path string) error { return syscall.Mkfifo(path, 0o644) }
