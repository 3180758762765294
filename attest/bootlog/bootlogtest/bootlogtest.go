// Package bootlogtest builds TCG PC Client crypto-agile boot event logs
// for tests (TCG PC Client PFP, 10.2: a TCG_PCR_EVENT carrying the
// TCG_EfiSpecIDEvent "Spec ID Event03", then TCG_PCR_EVENT2 entries with
// one digest per bank), and the PCR values they lead to.
package bootlogtest

import (
	"crypto"
	"encoding/binary"
	"unicode/utf16"

	"tep.dev/tep/attest/ima"
)

// Event is one measurement. Digest, when set, holds the digest per bank
// in place of the hash of Data (as firmware logs a blob's hash but not
// the blob).
type Event struct {
	PCR    int
	Type   uint32
	Data   []byte
	Digest map[string][]byte
}

// tpmAlg are the TPM_ALG_ID values of the banks (TPM 2.0 Part 2, 6.3).
var tpmAlg = map[string]uint16{"sha1": 0x0004, "sha256": 0x000B, "sha384": 0x000C, "sha512": 0x000D}

// EV_NO_ACTION, which the Spec ID event is.
const evNoAction = 3

// Build encodes events as a crypto-agile log with digests in banks.
func Build(banks []string, events []Event) ([]byte, error) {
	spec := []byte("Spec ID Event03\x00")
	spec = binary.LittleEndian.AppendUint32(spec, 0) // platform class: client
	spec = append(spec, 0, 2, 0, 2)                  // version 2.0 errata 0, UINTN 64-bit
	spec = binary.LittleEndian.AppendUint32(spec, uint32(len(banks)))
	for _, b := range banks {
		h, err := ima.BankHash(b)
		if err != nil {
			return nil, err
		}
		spec = binary.LittleEndian.AppendUint16(spec, tpmAlg[b])
		spec = binary.LittleEndian.AppendUint16(spec, uint16(h.Size()))
	}
	spec = append(spec, 0) // no vendor info
	out := binary.LittleEndian.AppendUint32(nil, 0)
	out = binary.LittleEndian.AppendUint32(out, evNoAction)
	out = append(out, make([]byte, 20)...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(spec)))
	out = append(out, spec...)
	for _, e := range events {
		out = binary.LittleEndian.AppendUint32(out, uint32(e.PCR))
		out = binary.LittleEndian.AppendUint32(out, e.Type)
		out = binary.LittleEndian.AppendUint32(out, uint32(len(banks)))
		for _, b := range banks {
			out = binary.LittleEndian.AppendUint16(out, tpmAlg[b])
			out = append(out, Digest(e, b)...)
		}
		out = binary.LittleEndian.AppendUint32(out, uint32(len(e.Data)))
		out = append(out, e.Data...)
	}
	return out, nil
}

// Digest is e's digest in bank, nil for an unknown bank.
func Digest(e Event, bank string) []byte {
	if d, ok := e.Digest[bank]; ok {
		return d
	}
	h, err := ima.BankHash(bank)
	if err != nil {
		return nil
	}
	hh := h.New()
	hh.Write(e.Data)
	return hh.Sum(nil)
}

// PCRs returns each PCR's value in bank after events, from zero.
func PCRs(bank string, events []Event) map[int][]byte {
	h, _ := ima.BankHash(bank)
	out := map[int][]byte{}
	for _, e := range events {
		v, ok := out[e.PCR]
		if !ok {
			v = make([]byte, h.Size())
		}
		out[e.PCR] = extend(h, v, Digest(e, bank))
	}
	return out
}

func extend(h crypto.Hash, v, d []byte) []byte {
	hh := h.New()
	hh.Write(v)
	hh.Write(d)
	return hh.Sum(nil)
}

// Event types used by Sample (TCG PC Client PFP, 10.4.1).
const (
	EvSeparator          = 0x00000004
	EvSCRTMVersion       = 0x00000008
	EvEFIVariableDriver  = 0x80000001
	EvEFIVariableBoot    = 0x80000002
	EvEFIBootServicesApp = 0x80000003
	EvEFIAction          = 0x80000007
	EvEFIFirmwareBlob    = 0x80000008
)

// Variable encodes UEFI_VARIABLE_DATA for an EFI variable event.
func Variable(name string, value []byte) []byte {
	u := utf16.Encode([]rune(name))
	d := make([]byte, 16) // the vendor GUID; zero serves a test
	d = binary.LittleEndian.AppendUint64(d, uint64(len(u)))
	d = binary.LittleEndian.AppendUint64(d, uint64(len(value)))
	for _, c := range u {
		d = binary.LittleEndian.AppendUint16(d, c)
	}
	return append(d, value...)
}

// UTF16 encodes s as UCS-2 with a terminating NUL, as S-CRTM version
// strings are.
func UTF16(s string) []byte {
	var d []byte
	for _, c := range utf16.Encode([]rune(s + "\x00")) {
		d = binary.LittleEndian.AppendUint16(d, c)
	}
	return d
}

// Sample is a small UEFI boot: firmware version and blob in PCR 0, a
// boot variable in PCR 1, Secure Boot state in PCR 7, a boot action and
// application in PCR 4, and a separator in each of PCRs 0–7. firmware
// varies the firmware blob's digest (a firmware update).
func Sample(firmware string) []Event {
	blob := hashes("firmware volume " + firmware)
	ev := []Event{
		{PCR: 0, Type: EvSCRTMVersion, Data: UTF16("TEP test firmware " + firmware)},
		// UEFI_PLATFORM_FIRMWARE_BLOB: base and length.
		{PCR: 0, Type: EvEFIFirmwareBlob, Data: binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, 0xffc0_0000), 0x40_0000), Digest: blob},
		{PCR: 7, Type: EvEFIVariableDriver, Data: Variable("SecureBoot", []byte{1})},
		{PCR: 7, Type: EvEFIVariableDriver, Data: Variable("PK", []byte("platform key"))},
		{PCR: 1, Type: EvEFIVariableBoot, Data: Variable("BootOrder", []byte{0, 0, 1, 0})},
		{PCR: 4, Type: EvEFIAction, Data: []byte("Calling EFI Application from Boot Option")},
	}
	for pcr := range 8 {
		ev = append(ev, Event{PCR: pcr, Type: EvSeparator, Data: make([]byte, 4)})
	}
	ev = append(ev, Event{PCR: 4, Type: EvEFIBootServicesApp, Data: ImageLoad(0x7000_0000, 0x10_0000), Digest: hashes("shim image")})
	return ev
}

// ImageLoad encodes UEFI_IMAGE_LOAD_EVENT (TCG PC Client PFP, 10.2.3)
// for an image at addr of length n, with an empty device path (only the
// end node), as an EV_EFI_BOOT_SERVICES_APPLICATION's data.
func ImageLoad(addr, n uint64) []byte {
	d := binary.LittleEndian.AppendUint64(nil, addr)
	d = binary.LittleEndian.AppendUint64(d, n)
	d = binary.LittleEndian.AppendUint64(d, 0) // link-time address
	end := []byte{0x7f, 0xff, 4, 0}            // End Entire Device Path
	d = binary.LittleEndian.AppendUint64(d, uint64(len(end)))
	return append(d, end...)
}

// hashes is s hashed in every bank, for events whose digest is of
// something other than their data.
func hashes(s string) map[string][]byte {
	out := map[string][]byte{}
	for _, b := range []string{"sha1", "sha256", "sha384", "sha512"} {
		h, _ := ima.BankHash(b)
		hh := h.New()
		hh.Write([]byte(s))
		out[b] = hh.Sum(nil)
	}
	return out
}
