package ima

import (
	"bytes"
	"crypto"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"

	// The banks' hash functions, registered for crypto.Hash.New.
	_ "crypto/sha256"
	_ "crypto/sha512"

	"tep.dev/tep/attest"
)

// Bank is one PCR bank's PCR 10 value in a [State].
type Bank struct {
	// Name is "sha1", "sha256", "sha384" or "sha512".
	Name  string `json:"bank"`
	Value []byte `json:"value"`
}

// State is PCR 10 in each bank after the first Entries entries of a
// log. Its fields are exported so that a verifier can store it between
// reports (as JSON, say).
type State struct {
	Entries int    `json:"entries"`
	Banks   []Bank `json:"banks"`
}

// BankHash returns the hash function of a bank name.
func BankHash(bank string) (crypto.Hash, error) {
	switch bank {
	case "sha1":
		return crypto.SHA1, nil
	case "sha256":
		return crypto.SHA256, nil
	case "sha384":
		return crypto.SHA384, nil
	case "sha512":
		return crypto.SHA512, nil
	}
	return 0, fmt.Errorf("%w: %q", ErrBank, bank)
}

// NewState returns the state before the first entry: PCR 10 all zeros
// in each of banks, of which there must be at least one.
func NewState(banks ...string) (*State, error) {
	if len(banks) == 0 {
		return nil, fmt.Errorf("%w: no bank to replay", ErrBank)
	}
	s := &State{}
	for _, b := range banks {
		h, err := BankHash(b)
		if err != nil {
			return nil, err
		}
		s.Banks = append(s.Banks, Bank{Name: b, Value: make([]byte, h.Size())})
	}
	return s, nil
}

// Clone returns a deep copy of s.
func (s *State) Clone() *State {
	c := &State{Entries: s.Entries, Banks: make([]Bank, len(s.Banks))}
	for i, b := range s.Banks {
		c.Banks[i] = Bank{Name: b.Name, Value: bytes.Clone(b.Value)}
	}
	return c
}

// Value returns PCR 10 in bank, or nil if s does not replay it.
func (s *State) Value(bank string) []byte {
	for _, b := range s.Banks {
		if b.Name == bank {
			return b.Value
		}
	}
	return nil
}

// replayer extends a State entry by entry with hashers and buffers made
// once, so that each entry costs its hashes and no allocation.
type replayer struct {
	s    *State
	hs   []hash.Hash
	sha1 hash.Hash
	sum  []byte
	pad  [nameFieldPad]byte
	ffs  [64]byte
}

func newReplayer(s *State) (*replayer, error) {
	if len(s.Banks) == 0 {
		return nil, fmt.Errorf("%w: state has no bank", ErrBank)
	}
	r := &replayer{s: s, sha1: sha1.New(), sum: make([]byte, 0, 64)}
	for i := range r.ffs {
		r.ffs[i] = 0xFF
	}
	for _, b := range s.Banks {
		h, err := BankHash(b.Name)
		if err != nil {
			return nil, err
		}
		if len(b.Value) != h.Size() {
			return nil, fmt.Errorf("ima: state's %s value has %d bytes", b.Name, len(b.Value))
		}
		r.hs = append(r.hs, h.New())
	}
	return r, nil
}

// templateHash writes the template hash of e under h into r.sum.
func (r *replayer) templateHash(h hash.Hash, e *Entry) []byte {
	h.Reset()
	if e.Template == TemplateIMA {
		// The digest, then the name padded to 256 bytes; the name's
		// length is not hashed.
		h.Write(e.Data[:20])
		h.Write(e.Name)
		h.Write(r.pad[:nameFieldPad-len(e.Name)])
	} else {
		h.Write(e.Data)
	}
	return h.Sum(r.sum[:0])
}

// extend extends every bank with entry e, which is entry number idx.
func (r *replayer) extend(idx int, e *Entry) error {
	if !e.Violation() {
		if th := r.templateHash(r.sha1, e); !bytes.Equal(th, e.TemplateHash[:]) {
			return fmt.Errorf("entry %d (%s): %w", idx, e.Name, ErrBadTemplate)
		}
	}
	if e.PCR != PCR {
		return nil
	}
	for i, h := range r.hs {
		v := r.s.Banks[i].Value
		var th []byte
		if e.Violation() {
			th = r.ffs[:len(v)]
		} else {
			th = r.templateHash(h, e)
		}
		h.Reset()
		h.Write(v)
		h.Write(th)
		h.Sum(v[:0])
	}
	return nil
}

// Extend extends s with entries, which follow the s.Entries entries
// already replayed. On error s is unchanged.
func (s *State) Extend(entries []Entry) error {
	next := s.Clone()
	r, err := newReplayer(next)
	if err != nil {
		return err
	}
	for i := range entries {
		if err := r.extend(s.Entries+i, &entries[i]); err != nil {
			return err
		}
	}
	next.Entries += len(entries)
	*s = *next
	return nil
}

// Replay extends s with entries until every bank of s equals the quoted
// PCR 10, and returns how many entries that took: entries after those
// were logged after the quote and are left for the next report (the
// kernel appends to the log before it extends the PCR, so a log read
// after a quote may run ahead of it, never behind). When no prefix
// matches, s is unchanged and Replay returns the faults: a bank the
// quote lacks, an entry whose template hash is wrong, or for each bank
// the quoted value (Expected) beside the replay of all entries (Actual).
func (s *State) Replay(entries []Entry, quoted []attest.PCRBank) (int, []attest.Fault) {
	want := make([][]byte, len(s.Banks))
	var faults []attest.Fault
	for i, b := range s.Banks {
		if want[i] = quotedPCR10(quoted, b.Name); want[i] == nil {
			faults = append(faults, pcrFault(attest.FaultPcrValueMissing, b.Name, "PCR 10 not quoted in this bank", nil, nil))
		}
	}
	if faults != nil {
		return 0, faults
	}
	next := s.Clone()
	r, err := newReplayer(next)
	if err != nil {
		return 0, []attest.Fault{{Name: attest.FaultIMALogInvalid, Description: err.Error()}}
	}
	for i := 0; ; i++ {
		if next.matches(want) {
			// Entries for other PCRs change nothing here; take them
			// now rather than leave them for a later report.
			for ; i < len(entries) && entries[i].PCR != PCR; i++ {
				if err := r.extend(s.Entries+i, &entries[i]); err != nil {
					return 0, []attest.Fault{{Name: attest.FaultIMALogInvalid, Description: err.Error(), File: string(entries[i].Name)}}
				}
			}
			next.Entries = s.Entries + i
			*s = *next
			return i, nil
		}
		if i == len(entries) {
			break
		}
		if err := r.extend(s.Entries+i, &entries[i]); err != nil {
			return 0, []attest.Fault{{Name: attest.FaultIMALogInvalid, Description: err.Error(), File: string(entries[i].Name)}}
		}
	}
	for i, b := range next.Banks {
		faults = append(faults, pcrFault(attest.FaultIMAReplayMismatch, b.Name,
			fmt.Sprintf("IMA log of %d entries does not replay to the quoted PCR 10", s.Entries+len(entries)), want[i], b.Value))
	}
	return 0, faults
}

func (s *State) matches(want [][]byte) bool {
	for i, b := range s.Banks {
		if !bytes.Equal(b.Value, want[i]) {
			return false
		}
	}
	return true
}

func quotedPCR10(quoted []attest.PCRBank, bank string) []byte {
	for _, q := range quoted {
		if q.Bank == bank {
			return q.Values[PCR]
		}
	}
	return nil
}

func pcrFault(name, bank, desc string, expected, actual []byte) attest.Fault {
	pcr := PCR
	return attest.Fault{
		Name: name, Description: "PCR 10 (" + bank + "): " + desc, PCR: &pcr, Bank: bank,
		Expected: hex.EncodeToString(expected), Actual: hex.EncodeToString(actual),
	}
}

// String describes s briefly, for logs.
func (s *State) String() string {
	return "ima state after " + strconv.Itoa(s.Entries) + " entries"
}

// ParseFault is the report's fault for an error from Parse: an oversized
// log (too many entries, a field too large) is EvidenceTooLarge, any
// other ImaLogInvalid.
func ParseFault(err error) attest.Fault {
	name := attest.FaultIMALogInvalid
	if errors.Is(err, ErrTooMany) || errors.Is(err, ErrFieldSize) {
		name = attest.FaultEvidenceTooLarge
	}
	return attest.Fault{Name: name, Description: "IMA log: " + err.Error()}
}
