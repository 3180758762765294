package ima

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// Template names this package knows the fields of. Other templates parse
// and replay, but carry no file digest or name.
const (
	TemplateIMA    = "ima"
	TemplateIMANG  = "ima-ng"
	TemplateIMASig = "ima-sig"
	TemplateIMABuf = "ima-buf"
	TemplateModSig = "ima-modsig"
)

// PCR is the PCR that IMA extends unless its policy names another.
const PCR = 10

// nameFieldPad is the size the legacy "ima" template pads its file name
// field to before hashing (IMA_EVENT_NAME_LEN_MAX + 1).
const nameFieldPad = 256

// templateNameMax is the kernel's bound on a template name
// (IMA_TEMPLATE_NAME_LEN_MAX).
const templateNameMax = 15

// Errors that parsing returns, wrapped with the entry's index.
var (
	ErrTruncated   = errors.New("ima: log truncated")
	ErrTooMany     = errors.New("ima: too many entries")
	ErrFieldSize   = errors.New("ima: field too large")
	ErrMalformed   = errors.New("ima: malformed entry")
	ErrOutOfRange  = errors.New("ima: entry index out of range")
	ErrBadTemplate = errors.New("ima: template hash does not match template data")
	ErrBank        = errors.New("ima: unsupported PCR bank")
)

// Limits bound what Parse accepts. The zero value picks the defaults.
type Limits struct {
	// MaxEntries bounds the number of entries (default 1,000,000).
	MaxEntries int
	// MaxData bounds one entry's template data (default 64 KiB, ample
	// for a signature field).
	MaxData int
}

func (l Limits) withDefaults() Limits {
	if l.MaxEntries <= 0 {
		l.MaxEntries = 1_000_000
	}
	if l.MaxData <= 0 {
		l.MaxData = 64 << 10
	}
	return l
}

// Entry is one measurement. Its byte slices point into the parsed log.
type Entry struct {
	PCR uint32
	// TemplateHash is the SHA-1 template hash the log carries; all
	// zeros marks a violation.
	TemplateHash [20]byte
	Template     string
	// Data is the template data as the log holds it: for "ima" the
	// digest and the length-prefixed name, for the others the fields
	// after the data length.
	Data []byte
	// HashAlgo and FileDigest come from the d or d-ng field ("sha1" for
	// the "ima" template); Name from n or n-ng, without its NUL; Sig is
	// ima-sig's signature field (empty when the file has none) and Buf
	// ima-buf's buffer.
	HashAlgo   string
	FileDigest []byte
	Name       []byte
	Sig        []byte
	Buf        []byte
}

// Violation reports whether the entry records a measurement violation
// (a file opened for write while measured, or the reverse).
func (e *Entry) Violation() bool { return e.TemplateHash == [20]byte{} }

// Append appends e in the binary list format to dst.
func (e *Entry) Append(dst []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, e.PCR)
	dst = append(dst, e.TemplateHash[:]...)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(e.Template)))
	dst = append(dst, e.Template...)
	if e.Template != TemplateIMA {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(e.Data)))
	}
	return append(dst, e.Data...)
}

// Parse reads every entry of log. Entries point into log.
func Parse(log []byte, lim Limits) ([]Entry, error) {
	lim = lim.withDefaults()
	// Count first (framing only), so the entries take one allocation
	// and an oversized log is refused before any is kept.
	n := 0
	for off := 0; off < len(log) && n <= lim.MaxEntries; n++ {
		l, err := frameLen(log[off:])
		if err != nil {
			break // the parse below reports it, with the entry's index
		}
		off += l
	}
	if n > lim.MaxEntries {
		return nil, fmt.Errorf("parsing: more than %d entries: %w", lim.MaxEntries, ErrTooMany)
	}
	out := make([]Entry, 0, n+1)
	for off := 0; off < len(log); {
		var e Entry
		n, err := parseEntry(log[off:], lim, &e)
		if err != nil {
			return nil, fmt.Errorf("parsing entry %d at byte %d: %w", len(out), off, err)
		}
		out = append(out, e)
		off += n
	}
	return out, nil
}

// Split returns the part of log from entry number from on: what an agent
// sends a verifier that already holds the first from entries. It checks
// only the framing, not the fields.
func Split(log []byte, from int) ([]byte, error) {
	if from < 0 {
		return nil, fmt.Errorf("splitting at entry %d: %w", from, ErrOutOfRange)
	}
	off := 0
	for i := 0; i < from; i++ {
		if off == len(log) {
			return nil, fmt.Errorf("splitting at entry %d of %d: %w", from, i, ErrOutOfRange)
		}
		n, err := frameLen(log[off:])
		if err != nil {
			return nil, fmt.Errorf("splitting at entry %d: entry %d: %w", from, i, err)
		}
		off += n
	}
	return log[off:], nil
}

// Count returns the number of entries in log, checking only the framing.
func Count(log []byte) (int, error) {
	n := 0
	for off := 0; off < len(log); n++ {
		l, err := frameLen(log[off:])
		if err != nil {
			return n, fmt.Errorf("counting: entry %d: %w", n, err)
		}
		off += l
	}
	return n, nil
}

// frameLen returns the length of the entry at the start of b.
func frameLen(b []byte) (int, error) {
	if len(b) < 28 {
		return 0, ErrTruncated
	}
	nl := binary.LittleEndian.Uint32(b[24:])
	if nl == 0 || nl > templateNameMax {
		return 0, fmt.Errorf("%w: template name length %d", ErrMalformed, nl)
	}
	off := 28 + int(nl)
	if len(b) < off {
		return 0, ErrTruncated
	}
	if string(b[28:off]) == TemplateIMA {
		if len(b) < off+24 {
			return 0, ErrTruncated
		}
		return checkedEnd(b, off+24, binary.LittleEndian.Uint32(b[off+20:]))
	}
	if len(b) < off+4 {
		return 0, ErrTruncated
	}
	return checkedEnd(b, off+4, binary.LittleEndian.Uint32(b[off:]))
}

func checkedEnd(b []byte, off int, n uint32) (int, error) {
	if uint64(len(b)-off) < uint64(n) {
		return 0, ErrTruncated
	}
	return off + int(n), nil
}

// parseEntry parses the entry at the start of b into e and returns its
// length.
func parseEntry(b []byte, lim Limits, e *Entry) (int, error) {
	if len(b) < 28 {
		return 0, ErrTruncated
	}
	e.PCR = binary.LittleEndian.Uint32(b)
	copy(e.TemplateHash[:], b[4:24])
	nl := binary.LittleEndian.Uint32(b[24:])
	if nl == 0 || nl > templateNameMax {
		return 0, fmt.Errorf("%w: template name length %d", ErrMalformed, nl)
	}
	off := 28 + int(nl)
	if len(b) < off {
		return 0, ErrTruncated
	}
	e.Template = internName(b[28:off])
	if e.Template == TemplateIMA {
		return parseLegacy(b, off, lim, e)
	}
	if len(b) < off+4 {
		return 0, ErrTruncated
	}
	dl := binary.LittleEndian.Uint32(b[off:])
	if uint64(dl) > uint64(lim.MaxData) {
		return 0, fmt.Errorf("%w: template data of %d bytes (limit %d)", ErrFieldSize, dl, lim.MaxData)
	}
	end, err := checkedEnd(b, off+4, dl)
	if err != nil {
		return 0, err
	}
	e.Data = b[off+4 : end : end]
	if err := e.parseFields(); err != nil {
		return 0, err
	}
	return end, nil
}

// parseLegacy parses the "ima" template's data: a 20-byte digest, then
// the name with its length.
func parseLegacy(b []byte, off int, lim Limits, e *Entry) (int, error) {
	if len(b) < off+24 {
		return 0, ErrTruncated
	}
	nl := binary.LittleEndian.Uint32(b[off+20:])
	// The kernel pads the name to 256 bytes for hashing; a longer one
	// could not have been hashed as the log claims.
	if nl >= nameFieldPad {
		return 0, fmt.Errorf("%w: ima name of %d bytes", ErrFieldSize, nl)
	}
	end, err := checkedEnd(b, off+24, nl)
	if err != nil {
		return 0, err
	}
	e.Data = b[off:end:end]
	e.HashAlgo = "sha1"
	e.FileDigest = e.Data[:20]
	e.Name = e.Data[24:]
	return end, nil
}

// parseFields splits e.Data into its length-prefixed fields and keeps
// those of the known templates.
func (e *Entry) parseFields() error {
	var f [5][]byte
	n := 0
	for d := e.Data; len(d) > 0; n++ {
		if n == len(f) || len(d) < 4 {
			return fmt.Errorf("%w: template data fields", ErrMalformed)
		}
		l := binary.LittleEndian.Uint32(d)
		if uint64(l) > uint64(len(d)-4) {
			return fmt.Errorf("%w: field %d overruns the template data", ErrMalformed, n)
		}
		f[n] = d[4 : 4+l : 4+l]
		d = d[4+l:]
	}
	want := fieldCount(e.Template)
	if want == 0 {
		return nil
	}
	if n != want {
		return fmt.Errorf("%w: %s entry with %d fields", ErrMalformed, e.Template, n)
	}
	algo, digest, err := splitDigest(f[0])
	if err != nil {
		return err
	}
	e.HashAlgo, e.FileDigest = algo, digest
	name, ok := bytes.CutSuffix(f[1], []byte{0})
	if !ok {
		return fmt.Errorf("%w: name field without its NUL", ErrMalformed)
	}
	e.Name = name
	switch e.Template {
	case TemplateIMASig, TemplateModSig:
		e.Sig = f[2]
	case TemplateIMABuf:
		e.Buf = f[2]
	}
	return nil
}

// fieldCount is the number of fields of a known template, 0 for others.
func fieldCount(template string) int {
	switch template {
	case TemplateIMANG:
		return 2
	case TemplateIMASig, TemplateIMABuf:
		return 3
	case TemplateModSig:
		return 5
	}
	return 0
}

// splitDigest reads a d-ng field: "ALGO:\0" then the digest. A d-ng
// field without the prefix is a SHA-1 or MD5 digest (the kernel writes
// none for those two).
func splitDigest(f []byte) (string, []byte, error) {
	i := bytes.IndexByte(f, 0)
	if i < 0 {
		switch len(f) {
		case 20:
			return "sha1", f, nil
		case 16:
			return "md5", f, nil
		}
		return "", nil, fmt.Errorf("%w: digest field of %d bytes", ErrMalformed, len(f))
	}
	if i == 0 || f[i-1] != ':' {
		return "", nil, fmt.Errorf("%w: digest field prefix", ErrMalformed)
	}
	return internName(f[:i-1]), f[i+1:], nil
}

// internName returns the well-known names without allocating.
func internName(b []byte) string {
	switch string(b) {
	case TemplateIMA:
		return TemplateIMA
	case TemplateIMANG:
		return TemplateIMANG
	case TemplateIMASig:
		return TemplateIMASig
	case TemplateIMABuf:
		return TemplateIMABuf
	case TemplateModSig:
		return TemplateModSig
	case "sha1", "sha256", "sha384", "sha512", "md5", "sm3":
		return knownAlgo(b)
	}
	return string(b)
}

func knownAlgo(b []byte) string {
	for _, s := range [...]string{"sha1", "sha256", "sha384", "sha512", "md5", "sm3"} {
		if string(b) == s {
			return s
		}
	}
	return string(b)
}
