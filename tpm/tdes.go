package tpm

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

// go-tpm v0.9.8 has no TDES member in TPMU_SYM_KEY_BITS or
// TPMU_SYM_MODE ("no union member for tag 3"): it can neither marshal nor
// parse a TDES key's public area. The few TDES structures are built and
// read here by hand (TPM 2.0 Part 2, 12.2.3.2 TPMS_SYMCIPHER_PARMS, 11.1.6
// TPMT_SYM_DEF_OBJECT, 12.2.4 TPMT_PUBLIC); the TPM2B wrappers of go-tpm
// carry them as plain bytes, which it never looks into.

// tdesBlock is TDES's block size, and the size of its IVs.
const tdesBlock = 8

// tdesSizes are the TDES key sizes of TPM 2.0 Part 2, 11.1.5
// (TPMI_TDES_KEY_BITS): two-key and three-key TDES, parity bits included.
var tdesSizes = []int{128, 192}

// tdesSymDef marshals the TPMT_SYM_DEF_OBJECT of a TDES key of bits, its
// mode NULL so that each TPM2_EncryptDecrypt2 picks one.
func tdesSymDef(bits int) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(tpm2.TPMAlgTDES))
	b = binary.BigEndian.AppendUint16(b, uint16(bits))
	return binary.BigEndian.AppendUint16(b, uint16(tpm2.TPMAlgNull))
}

// tdesPublic marshals the TPMT_PUBLIC of a TDES key of bits with attrs,
// name algorithm SHA-256 and no policy; its unique field is an empty
// TPM2B_DIGEST, which the TPM fills in.
func tdesPublic(bits int, attrs tpm2.TPMAObject) ([]byte, error) {
	if bits != 128 && bits != 192 {
		return nil, fmt.Errorf("%w: TDES key of %d bits", ErrUnsupported, bits)
	}
	b := binary.BigEndian.AppendUint16(nil, uint16(tpm2.TPMAlgSymCipher))
	b = binary.BigEndian.AppendUint16(b, uint16(tpm2.TPMAlgSHA256))
	b = append(b, tpm2.Marshal(attrs)...)
	b = append2B(b, nil) // authPolicy
	b = append(b, tdesSymDef(bits)...)
	return append2B(b, nil), nil // unique
}

// parseTDESPublic reads a TDES key's TPMT_PUBLIC. It returns the area
// with everything but the parameters, which go-tpm cannot hold, and the
// key size. It refuses anything that is not a TDES symcipher key of a
// known size, and bytes that do not encode back the same.
func parseTDESPublic(b []byte) (*tpm2.TPMTPublic, int, error) {
	bad := errors.New("malformed TDES public area")
	r := &rspReader{b: b}
	typ, nameAlg := r.u16(), r.u16()
	rawAttrs := r.take(4)
	policy := r.sized()
	alg, bits := r.u16(), int(r.u16())
	r.u16()   // the mode: any, as the key's creator chose it
	r.sized() // unique: any, as the TPM set it
	if r.err != nil || len(r.b) != 0 || tpm2.TPMAlgID(typ) != tpm2.TPMAlgSymCipher ||
		tpm2.TPMAlgID(alg) != tpm2.TPMAlgTDES || (bits != 128 && bits != 192) {
		return nil, 0, bad
	}
	attrs, err := tpm2.Unmarshal[tpm2.TPMAObject](rawAttrs)
	if err != nil || binary.BigEndian.Uint32(tpm2.Marshal(*attrs)) != binary.BigEndian.Uint32(rawAttrs) {
		return nil, 0, bad
	}
	area := &tpm2.TPMTPublic{
		Type:             tpm2.TPMAlgSymCipher,
		NameAlg:          tpm2.TPMIAlgHash(nameAlg),
		ObjectAttributes: *attrs,
		AuthPolicy:       tpm2.TPM2BDigest{Buffer: policy},
	}
	return area, bits, nil
}

// testTDES returns the TDES key sizes the TPM takes, from TPM2_TestParms
// (Part 3, 10.3) marshalled by hand. A TPM error means a size is not
// supported; any other error is returned.
func (l locked) testTDES() ([]int, error) {
	var out []int
	for _, bits := range tdesSizes {
		parms := binary.BigEndian.AppendUint16(nil, uint16(tpm2.TPMAlgSymCipher))
		_, err := l.command(tpm2.TPMCCTestParms, nil, append(parms, tdesSymDef(bits)...))
		var rc tpm2.TPMRC
		switch {
		case err == nil:
			out = append(out, bits)
		case !errors.As(err, &rc):
			return nil, err
		}
	}
	return out, nil
}
