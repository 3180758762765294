package bootlog

import (
	"bytes"
	"crypto"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf16"

	gattest "github.com/google/go-attestation/attest"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/ima"
)

// MaxLog bounds the size of a boot event log; real ones are tens of KiB.
const MaxLog = 1 << 20

// PCRs are the PCRs a boot log is replayed into by default: the
// firmware's and the boot loader's (TCG PC Client PFP, 3.3.4).
var PCRs = []int{0, 1, 2, 3, 4, 5, 6, 7}

// Event is a verified event in one bank.
type Event struct {
	// Seq is the event's place among the bank's verified events.
	Seq      int    `json:"seq"`
	PCR      int    `json:"pcr"`
	Type     uint32 `json:"type_id"`
	TypeName string `json:"type_name"`
	// Digest is the event's digest in the bank it was verified in.
	Digest []byte   `json:"digest"`
	Data   []byte   `json:"data,omitempty"`
	Tags   []string `json:"tags,omitempty"`
}

// Verified is one bank's verified part of a log: the PCRs it replayed to
// their quoted values and their events in log order. A PCR in PCRs with
// no event held its initial value.
type Verified struct {
	PCRs   []int   `json:"pcrs"`
	Events []Event `json:"events"`
}

// Has reports whether PCR pcr was verified.
func (v Verified) Has(pcr int) bool { return slices.Contains(v.PCRs, pcr) }

// algs maps bank names to go-attestation's algorithms.
var algs = map[string]gattest.HashAlg{
	"sha1": gattest.HashSHA1, "sha256": gattest.HashSHA256,
	"sha384": gattest.HashSHA384, "sha512": gattest.HashSHA512,
}

// Verify replays log into pcrs (PCRs when nil) in every quoted bank the
// log carries, and returns what it verified by bank, or the faults:
// PcrEventLogInvalid for a log that does not parse or a PCR whose replay
// differs from the quote (Expected the quoted value, Actual the replay),
// EvidenceTooLarge for an oversized log.
func Verify(log []byte, quoted []attest.PCRBank, pcrs []int) (map[string]Verified, []attest.Fault) {
	if pcrs == nil {
		pcrs = PCRs
	}
	if len(log) > MaxLog {
		return nil, []attest.Fault{{Name: attest.FaultEvidenceTooLarge,
			Description: fmt.Sprintf("boot event log of %d bytes (limit %d)", len(log), MaxLog)}}
	}
	el, err := gattest.ParseEventLog(log)
	if err != nil {
		return nil, []attest.Fault{{Name: attest.FaultPcrEventLogInvalid, Description: "boot event log: " + err.Error()}}
	}
	out := map[string]Verified{}
	var faults []attest.Fault
	for _, q := range quoted {
		alg, ok := algs[q.Bank]
		if !ok || !hasAlg(el, alg) {
			continue
		}
		v, fs := verifyBank(el, alg, q, pcrs)
		faults = append(faults, fs...)
		if fs == nil {
			out[q.Bank] = v
		}
	}
	if len(out) == 0 && faults == nil {
		faults = append(faults, attest.Fault{Name: attest.FaultPcrEventLogInvalid,
			Description: "boot event log has no digests in any quoted bank"})
	}
	return out, faults
}

func hasAlg(el *gattest.EventLog, alg gattest.HashAlg) bool {
	for _, a := range el.Algs {
		if a == alg {
			return true
		}
	}
	return false
}

// verifyBank replays one bank.
func verifyBank(el *gattest.EventLog, alg gattest.HashAlg, q attest.PCRBank, pcrs []int) (Verified, []attest.Fault) {
	h, _ := ima.BankHash(q.Bank)
	var want []gattest.PCR
	for _, i := range pcrs {
		if v, ok := q.Values[i]; ok {
			want = append(want, gattest.PCR{Index: i, Digest: v, DigestAlg: h})
		}
	}
	own := replay(el.Events(alg), h)
	var faults []attest.Fault
	verified, err := el.Verify(want)
	if err != nil {
		var re gattest.ReplayError
		if !errors.As(err, &re) {
			return Verified{}, []attest.Fault{{Name: attest.FaultPcrEventLogInvalid, Bank: q.Bank, Description: "boot event log replay: " + err.Error()}}
		}
		for _, i := range re.InvalidPCRs {
			faults = append(faults, replayFault(q, i, h, own))
		}
	}
	// go-attestation accepts a PCR with no events whatever its value.
	for _, p := range want {
		if _, has := own[p.Index]; !has && !bytes.Equal(p.Digest, make([]byte, h.Size())) {
			faults = append(faults, replayFault(q, p.Index, h, own))
		}
	}
	if faults != nil {
		return Verified{}, faults
	}
	v := Verified{Events: make([]Event, 0, len(verified))}
	for _, p := range want {
		v.PCRs = append(v.PCRs, p.Index)
	}
	for seq, e := range verified {
		v.Events = append(v.Events, Event{
			Seq: seq, PCR: e.Index, Type: uint32(e.Type), TypeName: e.Type.String(),
			Digest: e.Digest, Data: e.Data, Tags: verifiedTags(e, h),
		})
	}
	return v, nil
}

func replayFault(q attest.PCRBank, pcr int, h crypto.Hash, own map[int][]byte) attest.Fault {
	p := pcr
	actual := own[pcr]
	if actual == nil {
		actual = make([]byte, h.Size())
	}
	return attest.Fault{
		Name: attest.FaultPcrEventLogInvalid, PCR: &p, Bank: q.Bank,
		Description: fmt.Sprintf("boot event log does not replay to PCR %d (%s)", pcr, q.Bank),
		Expected:    hex.EncodeToString(q.Values[pcr]), Actual: hex.EncodeToString(actual),
	}
}

// replay computes each PCR from the unverified events, for the Actual
// values of faults. A StartupLocality event sets PCR 0's initial value
// (TCG PC Client PFP, 10.4.5.3).
func replay(events []gattest.Event, h crypto.Hash) map[int][]byte {
	out := map[int][]byte{}
	locality := byte(0)
	for _, e := range events {
		if e.Type == 3 { // EV_NO_ACTION extends nothing
			if e.Index == 0 && len(e.Data) == 17 && strings.HasPrefix(string(e.Data), "StartupLocality") {
				locality = e.Data[16]
			}
			continue
		}
		v, ok := out[e.Index]
		if !ok {
			v = make([]byte, h.Size())
			if e.Index == 0 {
				v[len(v)-1] = locality
			}
		}
		hh := h.New()
		hh.Write(v)
		hh.Write(e.Digest)
		out[e.Index] = hh.Sum(nil)
	}
	return out
}

// verifiedTags are an event's tags, with the name read from its data
// only where its digest is the hash of that data: the log's event data
// and type are not what the PCR holds, and a name that a flavor
// excludes must not be put on another measurement. (Firmware that
// measures only a variable's value, not its UEFI_VARIABLE_DATA, loses
// the variable's name here.)
func verifiedTags(e gattest.Event, h crypto.Hash) []string {
	tags := Tags(uint32(e.Type), e.Data)
	d := h.New()
	d.Write(e.Data)
	if !bytes.Equal(d.Sum(nil), e.Digest) {
		return tags[:1]
	}
	return tags
}

// Event types whose data names what was measured.
const (
	evPostCode          = 0x00000001
	evAction            = 0x00000005
	evSCRTMVersion      = 0x00000008
	evIPL               = 0x0000000D
	evEFIVariableDriver = 0x80000001
	evEFIVariableBoot   = 0x80000002
	evEFIAction         = 0x80000007
	evEFIVariableAuth   = 0x800000E0
)

// Tags names an event for flavor rules: its type's name, and for EFI
// variables the variable's name (UEFI_VARIABLE_DATA), for action, IPL,
// POST code and S-CRTM version events their text.
func Tags(typ uint32, data []byte) []string {
	tags := []string{gattest.EventType(typ).String()}
	var name string
	switch typ {
	case evEFIVariableDriver, evEFIVariableBoot, evEFIVariableAuth:
		name = variableName(data)
	case evPostCode, evAction, evSCRTMVersion, evIPL, evEFIAction:
		name = text(data)
	}
	if name != "" {
		tags = append(tags, name)
	}
	return tags
}

// variableName reads UEFI_VARIABLE_DATA's UnicodeName (UEFI 2.x; TCG PC
// Client PFP, 10.4.2): GUID, name length in characters, data length,
// then the UTF-16LE name.
func variableName(d []byte) string {
	if len(d) < 32 {
		return ""
	}
	n := binary.LittleEndian.Uint64(d[16:])
	if n > 256 || uint64(len(d)-32) < 2*n {
		return ""
	}
	u := make([]uint16, n)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(d[32+2*i:])
	}
	return printable(string(utf16.Decode(u)))
}

// text reads event data as ASCII or, when it looks so, UTF-16LE.
func text(d []byte) string {
	if len(d) >= 2 && len(d)%2 == 0 && d[1] == 0 {
		u := make([]uint16, len(d)/2)
		for i := range u {
			u[i] = binary.LittleEndian.Uint16(d[2*i:])
		}
		return printable(string(utf16.Decode(u)))
	}
	return printable(string(d))
}

// printable trims trailing NULs and returns s if it is short printable
// text, else "".
func printable(s string) string {
	s = strings.TrimRight(s, "\x00")
	if s == "" || len(s) > 128 {
		return ""
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return ""
		}
	}
	return s
}
