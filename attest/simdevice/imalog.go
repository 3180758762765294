package simdevice

import (
	"crypto"
	"fmt"
	"sync"

	"github.com/google/go-tpm/tpm2"
)

// LogSource makes the IMA log that a fleet's devices share; package
// attest/ima/imagen's Generator is one. simdevice writes no IMA format
// of its own: it slices the source's bytes and extends PCR 10 with the
// digests the source says each entry extends.
type LogSource interface {
	// Append adds n entries to the log and returns their bytes in
	// binary_runtime_measurements format.
	Append(n int) []byte
	// Extended returns, for every entry so far, the digest it extends
	// into PCR 10 in bank ("sha256", ...); nil if the source does not
	// compute bank.
	Extended(bank string) [][]byte
}

// sharedLog keeps a LogSource's entries with each entry's offset and,
// per bank, PCR 10 after every prefix, so that a device at any length
// costs a slice and a lookup. It only grows: bytes it has handed out
// never change.
type sharedLog struct {
	mu   sync.Mutex
	src  LogSource
	buf  []byte
	offs []int               // offs[i] is where entry i starts; offs[n] == len(buf)
	pcr  map[string][][]byte // pcr[bank][n] is PCR 10 after n entries
}

func newSharedLog(src LogSource, banks []bank) *sharedLog {
	l := &sharedLog{src: src, offs: []int{0}, pcr: map[string][][]byte{}}
	for _, b := range banks {
		l.pcr[b.name] = [][]byte{make([]byte, b.hash.Size())}
	}
	return l
}

// grow makes the log at least n entries long, with PCR 10 of every
// prefix in every bank.
func (l *sharedLog) grow(n int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.offs)-1 < n {
		l.buf = append(l.buf, l.src.Append(1)...)
		l.offs = append(l.offs, len(l.buf))
	}
	for name, vals := range l.pcr {
		if len(vals)-1 >= n {
			continue
		}
		ext := l.src.Extended(name)
		if len(ext) < n {
			return fmt.Errorf("IMA log source extends %d of %d entries in bank %s", len(ext), n, name)
		}
		h, _ := bankByName(name)
		for i := len(vals) - 1; i < n; i++ {
			vals = append(vals, extend(h.hash, vals[i], ext[i]))
		}
		l.pcr[name] = vals
	}
	return nil
}

// entries returns entries [from, to), which grow has made. The slice is
// shared and capped, so that an append by the caller copies.
func (l *sharedLog) entries(from, to int) []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	a, b := l.offs[from], l.offs[to]
	return l.buf[a:b:b]
}

// pcr10 returns PCR 10 in bank after n entries, which grow has made.
func (l *sharedLog) pcr10(bank string, n int) []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pcr[bank][n]
}

// extend is TPM2_PCR_Extend: H(pcr || digest).
func extend(h crypto.Hash, pcr, digest []byte) []byte {
	d := h.New()
	d.Write(pcr)
	d.Write(digest)
	return d.Sum(nil)
}

// bank is a PCR bank: its name in package attest's structs, its hash
// and its TPM algorithm.
type bank struct {
	name string
	hash crypto.Hash
	alg  tpm2.TPMIAlgHash
}

var banks = []bank{
	{"sha1", crypto.SHA1, tpm2.TPMAlgSHA1},
	{"sha256", crypto.SHA256, tpm2.TPMAlgSHA256},
	{"sha384", crypto.SHA384, tpm2.TPMAlgSHA384},
	{"sha512", crypto.SHA512, tpm2.TPMAlgSHA512},
}

func bankByName(name string) (bank, error) {
	for _, b := range banks {
		if b.name == name {
			return b, nil
		}
	}
	return bank{}, fmt.Errorf("unknown PCR bank %q", name)
}
