package archive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// Limits bound what Extract takes. A zero field takes its default.
type Limits struct {
	// Entries is the most entries an archive may hold (default 10,000).
	Entries int
	// Bytes is the most uncompressed bytes (tar headers included) an
	// archive may hold (default 1 GiB).
	Bytes int64
	// Ratio is the most uncompressed bytes per compressed byte (default
	// 100); archives smaller than 1 MiB uncompressed are exempt, as tiny
	// files compress far.
	Ratio int64
}

// The defaults of Limits.
const (
	DefaultEntries = 10000
	DefaultBytes   = 1 << 30
	DefaultRatio   = 100
	ratioFloor     = 1 << 20
)

func (l Limits) withDefaults() Limits {
	if l.Entries <= 0 {
		l.Entries = DefaultEntries
	}
	if l.Bytes <= 0 {
		l.Bytes = DefaultBytes
	}
	if l.Ratio <= 0 {
		l.Ratio = DefaultRatio
	}
	return l
}

// budget is the uncompressed bytes allowed for tgz bytes of input.
func (l Limits) budget(compressed int) int64 {
	b := max(int64(compressed)*l.Ratio, ratioFloor)
	return min(b, l.Bytes)
}

// Entry is one extracted entry.
type Entry struct {
	// Name is its slash-separated path under the directory.
	Name string
	// Type is tar's type flag: tar.TypeReg, tar.TypeDir or
	// tar.TypeSymlink.
	Type byte
	// Size is a file's length.
	Size int64
}

// Extract extracts the .tgz tgz into the directory dir, which should be
// empty, and returns its entries. It stops at the first entry it refuses;
// the caller removes dir then, as its contents are partial.
func Extract(tgz []byte, dir string, lim Limits) ([]Entry, error) {
	lim = lim.withDefaults()
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("extracting: %w", err)
	}
	defer root.Close()
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return nil, fmt.Errorf("extracting: %w: %v", ErrCorrupt, err)
	}
	budget := lim.budget(len(tgz))
	x := &extractor{root: root, lim: lim, left: budget, files: budget, links: map[string]bool{}}
	x.in = &budgetReader{r: zr, left: &x.left}
	entries, err := x.run()
	if err != nil {
		return nil, fmt.Errorf("extracting: %w", err)
	}
	return entries, nil
}

type extractor struct {
	root *os.Root
	lim  Limits
	left int64 // uncompressed bytes still allowed
	// files is what the files' sizes may still add up to: a sparse
	// file's holes are not in the stream, so left alone does not bound
	// what lands on disk.
	files int64
	in    *budgetReader
	// links are the symbolic links extracted so far: no later entry may
	// pass through one, so a link's target is checked where it really
	// sits.
	links map[string]bool
}

func (x *extractor) run() ([]Entry, error) {
	tr := tar.NewReader(x.in)
	var entries []Entry
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			// The gzip stream must end well too: its CRC and length
			// catch a truncation at an entry's boundary.
			if _, err := io.Copy(io.Discard, x.in); err != nil {
				return nil, x.readErr(err)
			}
			return entries, nil
		}
		if err != nil {
			return nil, x.readErr(err)
		}
		if len(entries) == x.lim.Entries {
			return nil, fmt.Errorf("%w: more than %d", ErrTooMany, x.lim.Entries)
		}
		e, err := x.entry(tr, h)
		if err != nil {
			return nil, fmt.Errorf("entry %q: %w", h.Name, err)
		}
		entries = append(entries, e)
	}
}

// readErr tells a read past the budget from a corrupt stream.
func (x *extractor) readErr(err error) error {
	if errors.Is(err, ErrTooLarge) {
		return err
	}
	return fmt.Errorf("%w: %v", ErrCorrupt, err)
}

func (x *extractor) entry(tr *tar.Reader, h *tar.Header) (Entry, error) {
	if h.Typeflag == tar.TypeDir && h.Name != "" && path.Clean(h.Name) == "." {
		// "./", which `tar -C dir -czf x.tgz .` writes first: the
		// directory extracted into, which exists.
		return Entry{Name: ".", Type: tar.TypeDir}, nil
	}
	name, err := cleanName(h.Name)
	if err != nil {
		return Entry{}, err
	}
	for p := name; p != "."; p = path.Dir(p) {
		if x.links[p] {
			return Entry{}, fmt.Errorf("%w: %q passes through the link %q", ErrUnsafeLink, name, p)
		}
	}
	if h.Mode&^0o777 != 0 {
		if h.Mode&(0o4000|0o2000|0o1000) != 0 {
			return Entry{}, fmt.Errorf("%w (mode %o)", ErrMode, h.Mode)
		}
		return Entry{}, fmt.Errorf("%w: mode %o", ErrEntryType, h.Mode)
	}
	perm := os.FileMode(h.Mode) & 0o777
	e := Entry{Name: name, Type: h.Typeflag}
	switch h.Typeflag {
	case tar.TypeDir:
		return e, x.root.MkdirAll(name, perm|0o700)
	case tar.TypeReg:
		e.Size = h.Size
		return e, x.file(tr, name, h.Size, perm)
	case tar.TypeSymlink:
		if err := checkLink(name, h.Linkname); err != nil {
			return Entry{}, err
		}
		if err := x.parent(name); err != nil {
			return Entry{}, err
		}
		x.links[name] = true
		return e, x.root.Symlink(h.Linkname, name)
	case tar.TypeLink:
		return Entry{}, fmt.Errorf("%w: hard link to %q", ErrEntryType, h.Linkname)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return Entry{}, fmt.Errorf("%w: device node or FIFO", ErrEntryType)
	}
	return Entry{}, fmt.Errorf("%w: type %q", ErrEntryType, h.Typeflag)
}

func (x *extractor) file(tr *tar.Reader, name string, size int64, perm os.FileMode) error {
	if size > x.left || size > x.files {
		return fmt.Errorf("%w: a %d-byte file with %d bytes left", ErrTooLarge, size, min(x.left, x.files))
	}
	x.files -= size
	if err := x.parent(name); err != nil {
		return err
	}
	f, err := x.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, tr)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return x.readErr(err)
	}
	return nil
}

// parent makes name's parent directories, as tar writers may omit them.
func (x *extractor) parent(name string) error {
	if d := path.Dir(name); d != "." {
		return x.root.MkdirAll(d, 0o755)
	}
	return nil
}

// cleanName refuses names that are absolute, hold "..", or are empty,
// and returns the name without a leading "./" or trailing "/".
func cleanName(name string) (string, error) {
	if strings.HasPrefix(name, "/") || strings.Contains(name, "\\") || strings.ContainsRune(name, 0) {
		return "", ErrUnsafePath
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", ErrUnsafePath
		}
	}
	c := path.Clean(name)
	if c == "." || c == "" {
		return "", ErrUnsafePath
	}
	return c, nil
}

// checkLink refuses a link target that is absolute or, taken from the
// link's directory, climbs out of the archive. A ".." may only lead the
// target: after a name, which may be (or later become) a link, the
// kernel's ".." is not the lexical one ("a" → "." makes "a/.." the
// archive's parent).
func checkLink(name, target string) error {
	if target == "" || strings.HasPrefix(target, "/") || strings.ContainsRune(target, 0) {
		return fmt.Errorf("%w: %q", ErrUnsafeLink, target)
	}
	depth := strings.Count(name, "/")
	named := false
	for _, part := range strings.Split(target, "/") {
		switch part {
		case "", ".":
		case "..":
			depth--
			if named {
				return fmt.Errorf("%w: %q has \"..\" after a name", ErrUnsafeLink, target)
			}
		default:
			depth++
			named = true
		}
		if depth < 0 {
			return fmt.Errorf("%w: %q", ErrUnsafeLink, target)
		}
	}
	return nil
}

// budgetReader fails with ErrTooLarge once more than *left bytes have
// been read.
type budgetReader struct {
	r    io.Reader
	left *int64
}

func (b *budgetReader) Read(p []byte) (int, error) {
	if *b.left <= 0 {
		return 0, ErrTooLarge
	}
	if int64(len(p)) > *b.left {
		p = p[:*b.left]
	}
	n, err := b.r.Read(p)
	*b.left -= int64(n)
	return n, err
}
