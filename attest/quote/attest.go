package quote

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

// TPM 2.0 Part 2, 6.2 (TPM_GENERATED_VALUE) and 6.9 (TPM_ST_ATTEST_QUOTE).
const (
	TPMGeneratedValue = 0xff544347
	TPMSTAttestQuote  = 0x8018
)

// maxSelections bounds a TPML_PCR_SELECTION: there are only so many
// hash algorithms (TPM 2.0 Part 2, 10.9.7, HASH_COUNT).
const maxSelections = 16

// ErrAttest is returned by ParseAttest for bytes that are not a
// TPMS_ATTEST.
var ErrAttest = errors.New("malformed TPMS_ATTEST")

// Selection is one TPMS_PCR_SELECTION: a bank and a bit map of its PCRs
// (bit i of byte j selects PCR 8j+i).
type Selection struct {
	Hash   tpm2.TPMIAlgHash
	Select []byte
}

// PCRs lists the selected PCR indices in ascending order, the order in
// which the TPM hashes their values.
func (s Selection) PCRs() []int {
	var out []int
	for i, b := range s.Select {
		for bit := range 8 {
			if b&(1<<bit) != 0 {
				out = append(out, 8*i+bit)
			}
		}
	}
	return out
}

// Attest is a TPMS_ATTEST (TPM 2.0 Part 2, 10.12.12). Its quote part
// (Selections, PCRDigest) is set for TPM_ST_ATTEST_QUOTE; any other type
// keeps its attested part, unread, in Other.
type Attest struct {
	Magic           uint32
	Type            uint16
	QualifiedSigner []byte
	ExtraData       []byte
	// TPMS_CLOCK_INFO.
	Clock        uint64
	ResetCount   uint32
	RestartCount uint32
	Safe         bool
	// FirmwareVersion is vendor-defined; attest.FirmwareVersion
	// formats it.
	FirmwareVersion uint64
	// TPMS_QUOTE_INFO.
	Selections []Selection
	PCRDigest  []byte
	Other      []byte
}

// ParseAttest reads a TPMS_ATTEST as TPM2_Quote returns it inside
// TPM2B_ATTEST. It checks only the encoding: magic and type are read, not
// judged, so that Verify can name what is wrong. Trailing bytes are an
// error, so that ParseAttest(b).Marshal() is b.
func ParseAttest(b []byte) (*Attest, error) {
	r := reader{b: b}
	a := &Attest{Magic: r.u32(), Type: r.u16()}
	a.QualifiedSigner = r.sized()
	a.ExtraData = r.sized()
	a.Clock = r.u64()
	a.ResetCount = r.u32()
	a.RestartCount = r.u32()
	safe := r.u8()
	a.FirmwareVersion = r.u64()
	if r.err != nil {
		return nil, fmt.Errorf("%w: %v", ErrAttest, r.err)
	}
	if safe > 1 {
		return nil, fmt.Errorf("%w: safe is %d, not a TPMI_YES_NO", ErrAttest, safe)
	}
	a.Safe = safe == 1
	if a.Type != TPMSTAttestQuote {
		a.Other = r.rest()
		return a, nil
	}
	n := r.u32()
	if n > maxSelections {
		return nil, fmt.Errorf("%w: %d PCR selections", ErrAttest, n)
	}
	for range n {
		s := Selection{Hash: tpm2.TPMIAlgHash(r.u16())}
		s.Select = r.bytes(int(r.u8()))
		a.Selections = append(a.Selections, s)
	}
	a.PCRDigest = r.sized()
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: %v", ErrAttest, r.err)
	}
	return a, nil
}

// Marshal encodes a as the TPM does.
func (a *Attest) Marshal() []byte {
	b := binary.BigEndian.AppendUint32(nil, a.Magic)
	b = binary.BigEndian.AppendUint16(b, a.Type)
	b = append2B(b, a.QualifiedSigner)
	b = append2B(b, a.ExtraData)
	b = binary.BigEndian.AppendUint64(b, a.Clock)
	b = binary.BigEndian.AppendUint32(b, a.ResetCount)
	b = binary.BigEndian.AppendUint32(b, a.RestartCount)
	safe := byte(0)
	if a.Safe {
		safe = 1
	}
	b = append(b, safe)
	b = binary.BigEndian.AppendUint64(b, a.FirmwareVersion)
	if a.Type != TPMSTAttestQuote {
		return append(b, a.Other...)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(a.Selections)))
	for _, s := range a.Selections {
		b = binary.BigEndian.AppendUint16(b, uint16(s.Hash))
		b = append(b, byte(len(s.Select)))
		b = append(b, s.Select...)
	}
	return append2B(b, a.PCRDigest)
}

func append2B(b, v []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

// reader takes big-endian fields off b; after the first short read it
// returns zeros and keeps the error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.b) < n {
		r.err = fmt.Errorf("truncated: %d bytes wanted, %d left", n, len(r.b))
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() byte {
	if v := r.bytes(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if v := r.bytes(2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if v := r.bytes(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if v := r.bytes(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (r *reader) sized() []byte { return r.bytes(int(r.u16())) }

func (r *reader) rest() []byte {
	v := r.b
	r.b = nil
	return v
}
