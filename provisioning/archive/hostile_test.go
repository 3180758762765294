package archive

import (
	"archive/tar"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// A link whose target is checked by counting ".." still leads out when an
// earlier link sits in its path: "a" → "." makes "a/.." the archive's
// parent, which the kernel resolves and a lexical count does not.
func TestExtractRefusesLinkThroughLink(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []entry
	}{
		{"parent through a dot link", []entry{typed("a", tar.TypeSymlink, "."), typed("b", tar.TypeSymlink, "a/..")}},
		{"root through two links", []entry{
			typed("a", tar.TypeSymlink, "."), typed("b", tar.TypeSymlink, "a/.."),
			typed("c", tar.TypeSymlink, "b/.."), typed("d", tar.TypeSymlink, "c/etc/passwd")}},
		{"link made after the target names it", []entry{typed("b", tar.TypeSymlink, "a/.."), typed("a", tar.TypeSymlink, ".")}},
		{"dot dot after a directory", []entry{typed("d/", tar.TypeDir, ""), typed("l", tar.TypeSymlink, "d/../..")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "dst")
			os.Mkdir(dst, 0o755)
			_, err := Extract(tgz(t, tc.entries...), dst, Limits{})
			if !errors.Is(err, ErrUnsafeLink) {
				t.Fatalf("Extract = %v, want ErrUnsafeLink", err)
			}
		})
	}
	// What stays allowed: a link that climbs first, then descends.
	dst := t.TempDir()
	ok := tgz(t, file("etc/app.conf", "x"), typed("d/l", tar.TypeSymlink, "../etc/app.conf"), typed("m", tar.TypeSymlink, "d/l"))
	if _, err := Extract(ok, dst, Limits{}); err != nil {
		t.Fatalf("Extract(links that stay inside) = %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "m")); err != nil || string(b) != "x" {
		t.Errorf("m = %q, %v; want x through two links", b, err)
	}
}

// Holes of a sparse file are not in the compressed stream, so the
// stream's budget does not see them: GNU tar's PAX sparse files, each just
// under the budget, would write many times the limit to disk.
func TestExtractRefusesSparse(t *testing.T) {
	if _, err := exec.LookPath("tar"); err != nil {
		t.Fatal("tar is needed: ", err)
	}
	src := t.TempDir()
	names := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	for _, n := range names {
		if err := os.Truncate(createEmpty(t, filepath.Join(src, n)), 900<<10); err != nil {
			t.Fatal(err)
		}
	}
	for _, format := range []string{"pax", "gnu"} {
		t.Run(format, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "s.tgz")
			cmd := exec.Command("tar", append([]string{"--sparse", "--format=" + format, "-C", src, "-czf", out}, names...)...)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("tar: %v: %s", err, b)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			dst := t.TempDir()
			_, err = Extract(b, dst, Limits{Bytes: 1 << 20})
			if err == nil || !(errors.Is(err, ErrEntryType) || errors.Is(err, ErrTooLarge)) {
				t.Errorf("Extract(8 sparse files of 900 KiB, %d bytes compressed, limit 1 MiB) = %v, want a refusal", len(b), err)
			}
			if n := duBytes(t, dst); n > 1<<20 {
				t.Errorf("Extract wrote %d bytes, past the 1 MiB limit", n)
			}
		})
	}
}

func createEmpty(t *testing.T, name string) string {
	t.Helper()
	if err := os.WriteFile(name, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

// `tar -C dir -czf x.tgz .`, the usual way to pack a folder, begins with
// the entry "./": the folder itself, not a path out of it.
func TestExtractDotEntryOfRealTar(t *testing.T) {
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "app"), 0o755)
	os.WriteFile(filepath.Join(src, "app", "app.conf"), []byte("k = v\n"), 0o644)
	out := filepath.Join(t.TempDir(), "x.tgz")
	if b, err := exec.Command("tar", "-C", src, "-czf", out, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	if _, err := Extract(b, dst, Limits{}); err != nil {
		t.Fatalf("Extract(tar -C dir -czf x.tgz .) = %v", err)
	}
	if got, err := os.ReadFile(filepath.Join(dst, "app", "app.conf")); err != nil || string(got) != "k = v\n" {
		t.Errorf("app/app.conf = %q, %v", got, err)
	}
	// "." as anything but a directory is still refused.
	if _, err := Extract(tgz(t, file(".", "x")), t.TempDir(), Limits{}); !errors.Is(err, ErrUnsafePath) {
		t.Errorf("Extract(file named .) = %v, want ErrUnsafePath", err)
	}
}
