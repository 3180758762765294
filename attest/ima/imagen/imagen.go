package imagen

import (
	"bytes"
	"crypto"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"math/rand/v2"

	"tep.dev/tep/attest/ima"
)

// Config says what to generate. The zero value works.
type Config struct {
	// Banks are the PCR banks to compute PCR 10 in (default sha1,
	// sha256 and sha384).
	Banks []string
	// Seed makes file names and digests; equal seeds give equal logs.
	Seed uint64
	// Templates are cycled through, entry by entry (default "ima-ng",
	// "ima-sig", "ima"; evmctl 1.4 refuses a list that mixes "ima" with
	// the others).
	Templates []string
	// ViolationEvery makes every ViolationEvery-th entry a violation
	// (default 97; negative for none).
	ViolationEvery int
}

// File is a measured file as a runtime policy would allow it.
type File struct {
	Path   string
	Algo   string
	Digest []byte
}

// Generator makes a log entry by entry. The first entry is the
// boot_aggregate, as on a real system.
type Generator struct {
	cfg      Config
	rnd      *rand.Rand
	log      []byte
	n        int
	files    []File
	pcr      map[string][]byte
	extended map[string][][]byte
}

// New returns a Generator with an empty log.
func New(cfg Config) (*Generator, error) {
	if len(cfg.Banks) == 0 {
		cfg.Banks = []string{"sha1", "sha256", "sha384"}
	}
	if len(cfg.Templates) == 0 {
		cfg.Templates = []string{ima.TemplateIMANG, ima.TemplateIMASig, ima.TemplateIMA}
	}
	for _, tmpl := range cfg.Templates {
		switch tmpl {
		case ima.TemplateIMA, ima.TemplateIMANG, ima.TemplateIMASig:
		default:
			return nil, fmt.Errorf("imagen: template %q: only ima, ima-ng and ima-sig", tmpl)
		}
	}
	if cfg.ViolationEvery == 0 {
		cfg.ViolationEvery = 97
	}
	g := &Generator{
		cfg: cfg, rnd: rand.New(rand.NewPCG(cfg.Seed, 0x1a7e)),
		pcr: map[string][]byte{}, extended: map[string][][]byte{},
	}
	for _, b := range cfg.Banks {
		h, err := ima.BankHash(b)
		if err != nil {
			return nil, fmt.Errorf("imagen: %w", err)
		}
		g.pcr[b] = make([]byte, h.Size())
	}
	return g, nil
}

// Append adds n entries and returns their bytes, which are also at the
// end of Log.
func (g *Generator) Append(n int) []byte {
	start := len(g.log)
	for range n {
		g.add()
	}
	return g.log[start:]
}

// Log returns the whole list so far. The caller must not change it.
func (g *Generator) Log() []byte { return g.log }

// Len returns the number of entries so far.
func (g *Generator) Len() int { return g.n }

// Files returns the measured files (not the violations), in log order.
func (g *Generator) Files() []File { return g.files }

// PCR10 returns PCR 10's value in bank after the entries so far.
func (g *Generator) PCR10(bank string) []byte { return bytes.Clone(g.pcr[bank]) }

// Extended returns the digests extended into PCR 10 in bank, one per
// entry: what a test hands TPM2_PCR_Extend to make a TPM match the log.
func (g *Generator) Extended(bank string) [][]byte { return g.extended[bank] }

// add makes one entry, appends it and extends the PCRs.
func (g *Generator) add() {
	i := g.n
	g.n++
	tmpl := g.cfg.Templates[i%len(g.cfg.Templates)]
	violation := i > 0 && g.cfg.ViolationEvery > 0 && i%g.cfg.ViolationEvery == 0
	path := fmt.Sprintf("/usr/lib/tep-gen/%04x/file-%d", g.rnd.Uint32()&0xffff, i)
	if i == 0 {
		tmpl, path = g.cfg.Templates[0], "boot_aggregate"
	}
	algo, digest := "sha256", g.digest(crypto.SHA256, path)
	if tmpl == ima.TemplateIMA {
		algo, digest = "sha1", g.digest(crypto.SHA1, path)
	}
	if violation {
		// The kernel records a violation with a zero SHA-1 digest.
		algo, digest = "sha1", make([]byte, sha1.Size)
	} else {
		g.files = append(g.files, File{Path: path, Algo: algo, Digest: digest})
	}
	data := templateData(tmpl, algo, digest, path, g.sig(tmpl, i))
	e := ima.Entry{PCR: ima.PCR, Template: tmpl, Data: data}
	if !violation {
		copy(e.TemplateHash[:], hashData(crypto.SHA1, tmpl, data))
	}
	g.log = e.Append(g.log)
	for _, b := range g.cfg.Banks {
		h, _ := ima.BankHash(b)
		var th []byte
		if violation {
			th = bytes.Repeat([]byte{0xFF}, h.Size())
		} else {
			th = hashData(h, tmpl, data)
		}
		g.extended[b] = append(g.extended[b], th)
		hh := h.New()
		hh.Write(g.pcr[b])
		hh.Write(th)
		g.pcr[b] = hh.Sum(nil)
	}
}

func (g *Generator) digest(h crypto.Hash, path string) []byte {
	hh := h.New()
	fmt.Fprintf(hh, "%s %d", path, g.rnd.Uint64())
	return hh.Sum(nil)
}

// sig returns an ima-sig signature field for every other ima-sig entry:
// an EVM_IMA_XATTR_DIGSIG (3), version 2 header (hash algorithm, key id,
// length) and random bytes in place of a signature. The others carry
// none, as files without a security.ima signature do.
func (g *Generator) sig(tmpl string, i int) []byte {
	if tmpl != ima.TemplateIMASig || (i/len(g.cfg.Templates))%2 == 1 {
		return nil
	}
	sig := make([]byte, 64)
	for j := range sig {
		sig[j] = byte(g.rnd.Uint32())
	}
	hdr := []byte{3, 2, 4, 0xde, 0xad, 0xbe, 0xef}
	hdr = binary.BigEndian.AppendUint16(hdr, uint16(len(sig)))
	return append(hdr, sig...)
}

// templateData encodes the template data as the kernel writes it.
func templateData(tmpl, algo string, digest []byte, path string, sig []byte) []byte {
	if tmpl == ima.TemplateIMA {
		d := append([]byte(nil), digest...)
		d = binary.LittleEndian.AppendUint32(d, uint32(len(path)))
		return append(d, path...)
	}
	dng := append(append([]byte(algo), ':', 0), digest...)
	d := field(nil, dng)
	d = field(d, append([]byte(path), 0))
	if tmpl == ima.TemplateIMASig {
		d = field(d, sig)
	}
	return d
}

func field(dst, f []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(f)))
	return append(dst, f...)
}

// hashData is the template hash under h: for "ima" the digest and the
// name padded to 256 bytes, for the others the template data.
func hashData(h crypto.Hash, tmpl string, data []byte) []byte {
	hh := h.New()
	if tmpl == ima.TemplateIMA {
		name := make([]byte, 256)
		copy(name, data[24:])
		hh.Write(data[:20])
		hh.Write(name)
	} else {
		hh.Write(data)
	}
	return hh.Sum(nil)
}
