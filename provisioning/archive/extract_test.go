package archive

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"tep.dev/tep/provisioning/archive/archivetest"
)

var (
	tgz   = archivetest.Tgz
	file  = archivetest.File
	typed = archivetest.Typed
)

type entry = archivetest.Entry

func TestPackExtract(t *testing.T) {
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "etc/app"), 0o755)
	os.WriteFile(filepath.Join(src, "etc/app/app.conf"), []byte("key = value\n"), 0o640)
	os.WriteFile(filepath.Join(src, "run.sh"), []byte("#!/bin/sh\n"), 0o755)
	os.Symlink("etc/app/app.conf", filepath.Join(src, "current.conf"))
	var buf bytes.Buffer
	if err := Pack(src, &buf); err != nil {
		t.Fatalf("Pack: %v", err)
	}
	dst := t.TempDir()
	entries, err := Extract(buf.Bytes(), dst, Limits{})
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	if len(entries) != 5 {
		t.Errorf("Extract = %d entries, want 5: %v", len(entries), entries)
	}
	got, err := os.ReadFile(filepath.Join(dst, "current.conf"))
	if err != nil || string(got) != "key = value\n" {
		t.Errorf("current.conf = %q, %v; want the config through its link", got, err)
	}
	fi, err := os.Stat(filepath.Join(dst, "run.sh"))
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("run.sh mode = %v, %v; want 0755", fi.Mode(), err)
	}
}

func TestPackRefusesLinkOut(t *testing.T) {
	for _, target := range []string{"/etc", "../x", "a/../../x"} {
		src := t.TempDir()
		os.Symlink(target, filepath.Join(src, "l"))
		if err := Pack(src, new(bytes.Buffer)); !errors.Is(err, ErrUnsafeLink) {
			t.Errorf("Pack(link to %q) = %v, want ErrUnsafeLink", target, err)
		}
	}
}

func TestPackRefusesFIFO(t *testing.T) {
	src := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(src, "fifo"), 0o644); err != nil {
		t.Skip(err)
	}
	if err := Pack(src, new(bytes.Buffer)); !errors.Is(err, ErrEntryType) {
		t.Errorf("Pack(dir with a FIFO) = %v, want ErrEntryType", err)
	}
}

func TestExtractRefuses(t *testing.T) {
	setuid := file("suid", "x")
	setuid.Header.Mode = 0o4755
	setgid := file("sgid", "x")
	setgid.Header.Mode = 0o2755
	for _, tc := range []struct {
		name string
		tgz  []byte
		want error
	}{
		{"dotdot", tgz(t, file("../../etc/passwd", "root::0:0::/:/bin/sh\n")), ErrUnsafePath},
		{"inner dotdot", tgz(t, file("a/../../x", "x")), ErrUnsafePath},
		{"absolute", tgz(t, file("/etc/passwd", "x")), ErrUnsafePath},
		{"symlink to /etc then through it", tgz(t, typed("etc", tar.TypeSymlink, "/etc"), file("etc/passwd", "x")), ErrUnsafeLink},
		{"relative link out", tgz(t, typed("a/up", tar.TypeSymlink, "../../etc")), ErrUnsafeLink},
		{"through an inner link", tgz(t, typed("d", tar.TypeSymlink, "."), file("d/x", "x")), ErrUnsafeLink},
		{"hard link", tgz(t, file("a", "x"), typed("b", tar.TypeLink, "a")), ErrEntryType},
		{"hard link out", tgz(t, typed("b", tar.TypeLink, "/etc/shadow")), ErrEntryType},
		{"char device", tgz(t, entry{Header: tar.Header{Name: "null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}}), ErrEntryType},
		{"block device", tgz(t, entry{Header: tar.Header{Name: "sda", Typeflag: tar.TypeBlock, Devmajor: 8}}), ErrEntryType},
		{"fifo", tgz(t, typed("p", tar.TypeFifo, "")), ErrEntryType},
		{"setuid", tgz(t, setuid), ErrMode},
		{"setgid", tgz(t, setgid), ErrMode},
		{"duplicate", tgz(t, file("a", "x"), file("a", "y")), os.ErrExist},
		{"not gzip", []byte("plain text"), ErrCorrupt},
		{"truncated", tgz(t, file("a", strings.Repeat("x", 5000)))[:100], ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := t.TempDir()
			_, err := Extract(tc.tgz, dst, Limits{})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Extract = %v, want %v", err, tc.want)
			}
			if _, err := os.Lstat("/etc/passwd"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestExtractTooMany(t *testing.T) {
	// One past the default limit; provisioning/config's test applies the
	// issue's 100,000 on swtpm.
	b := archivetest.EmptyFiles(t, DefaultEntries+1)
	entries := make([]entry, 11)
	for i := range entries {
		entries[i] = file(fmt.Sprintf("f%d", i), "x")
	}
	if _, err := Extract(b, t.TempDir(), Limits{}); !errors.Is(err, ErrTooMany) {
		t.Errorf("Extract(%d empty files) = %v, want ErrTooMany", DefaultEntries+1, err)
	}
	ten := tgz(t, entries[:10]...)
	if _, err := Extract(ten, t.TempDir(), Limits{Entries: 10}); err != nil {
		t.Errorf("Extract(10 files, limit 10) = %v", err)
	}
	if _, err := Extract(tgz(t, entries[:11]...), t.TempDir(), Limits{Entries: 10}); !errors.Is(err, ErrTooMany) {
		t.Errorf("Extract(11 files, limit 10) = %v, want ErrTooMany", err)
	}
}

func FuzzExtract(f *testing.F) {
	f.Add(tgz(f, file("a/b", "x"), typed("l", tar.TypeSymlink, "a/b")))
	f.Add(tgz(f, typed("d/", tar.TypeDir, ""), file("d/f", "y")))
	f.Fuzz(func(t *testing.T, b []byte) {
		dst := t.TempDir()
		entries, err := Extract(b, dst, Limits{Entries: 100, Bytes: 1 << 20})
		if err != nil {
			return
		}
		for _, e := range entries {
			if _, err := os.Lstat(filepath.Join(dst, e.Name)); err != nil {
				t.Errorf("entry %q not under the directory: %v", e.Name, err)
			}
		}
	})
}

func TestExtractBomb(t *testing.T) {
	one := archivetest.Bomb(t, 10<<30, 1)
	if _, err := Extract(one, t.TempDir(), Limits{}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Extract(10 GiB in one file, %d bytes compressed) = %v, want ErrTooLarge", len(one), err)
	}
	// In files that each fit, the stream's budget stops it.
	many := archivetest.Bomb(t, 10<<30, 10240)
	dst := t.TempDir()
	if _, err := Extract(many, dst, Limits{Bytes: 8 << 20}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Extract(10 GiB in 1 MiB files) = %v, want ErrTooLarge", err)
	}
	if n := duBytes(t, dst); n > 8<<20 {
		t.Errorf("Extract wrote %d bytes, past the 8 MiB limit", n)
	}
}

func duBytes(t *testing.T, dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}
