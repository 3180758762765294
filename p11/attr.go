package p11

import (
	"encoding/binary"
	"fmt"
)

// Kind is how an attribute's value is laid out in C memory; the provider
// converts between that layout and the canonical one on the wire.
type Kind uint8

// Attribute kinds.
const (
	KindBytes    Kind = iota // a byte string, as it is
	KindBool                 // CK_BBOOL
	KindUlong                // CK_ULONG (CK_OBJECT_CLASS, CK_KEY_TYPE, …)
	KindDate                 // CK_DATE: 8 ASCII digits
	KindMechList             // an array of CK_MECHANISM_TYPE
	KindTemplate             // an array of CK_ATTRIBUTE (CKF_ARRAY_ATTRIBUTE)
)

var boolAttrs = []uint64{
	CKA_TOKEN, CKA_PRIVATE, CKA_TRUSTED, CKA_SENSITIVE, CKA_ENCRYPT, CKA_DECRYPT,
	CKA_WRAP, CKA_UNWRAP, CKA_SIGN, CKA_SIGN_RECOVER, CKA_VERIFY, CKA_VERIFY_RECOVER,
	CKA_DERIVE, CKA_EXTRACTABLE, CKA_LOCAL, CKA_NEVER_EXTRACTABLE, CKA_ALWAYS_SENSITIVE,
	CKA_MODIFIABLE, CKA_COPYABLE, CKA_DESTROYABLE, CKA_ALWAYS_AUTHENTICATE,
	CKA_WRAP_WITH_TRUSTED, CKA_RESET_ON_INIT, CKA_HAS_RESET, CKA_OTP_USER_FRIENDLY_MODE,
	CKA_COLOR,
}

var ulongAttrs = []uint64{
	CKA_CLASS, CKA_CERTIFICATE_TYPE, CKA_CERTIFICATE_CATEGORY, CKA_JAVA_MIDP_SECURITY_DOMAIN,
	CKA_NAME_HASH_ALGORITHM, CKA_KEY_TYPE, CKA_MODULUS_BITS, CKA_PRIME_BITS, CKA_SUBPRIME_BITS,
	CKA_VALUE_BITS, CKA_VALUE_LEN, CKA_KEY_GEN_MECHANISM, CKA_AUTH_PIN_FLAGS, CKA_OTP_FORMAT,
	CKA_OTP_LENGTH, CKA_OTP_TIME_INTERVAL, CKA_OTP_CHALLENGE_REQUIREMENT,
	CKA_OTP_TIME_REQUIREMENT, CKA_OTP_COUNTER_REQUIREMENT, CKA_OTP_PIN_REQUIREMENT,
	CKA_HW_FEATURE_TYPE, CKA_PIXEL_X, CKA_PIXEL_Y, CKA_RESOLUTION, CKA_CHAR_ROWS,
	CKA_CHAR_COLUMNS, CKA_BITS_PER_PIXEL, CKA_MECHANISM_TYPE,
}

var kinds = func() map[uint64]Kind {
	m := map[uint64]Kind{
		CKA_START_DATE: KindDate, CKA_END_DATE: KindDate,
		CKA_ALLOWED_MECHANISMS: KindMechList,
		CKA_WRAP_TEMPLATE:      KindTemplate, CKA_UNWRAP_TEMPLATE: KindTemplate, CKA_DERIVE_TEMPLATE: KindTemplate,
	}
	for _, a := range boolAttrs {
		m[a] = KindBool
	}
	for _, a := range ulongAttrs {
		m[a] = KindUlong
	}
	return m
}()

// AttrKind returns the layout of attribute type t; unknown and
// vendor-defined types are byte strings.
func AttrKind(t uint64) Kind { return kinds[t] }

// Attribute is one CK_ATTRIBUTE on the wire. Its Value is canonical: a
// CK_BBOOL is one byte, 0 or 1; a CK_ULONG (and each element of a
// mechanism list) eight bytes little-endian, whatever the guest's word
// size and byte order; anything else as it is.
type Attribute struct {
	Type  uint64
	Value []byte
}

// Bool encodes a CK_BBOOL value.
func Bool(b bool) []byte {
	if b {
		return []byte{1}
	}
	return []byte{0}
}

// Ulong encodes a CK_ULONG value.
func Ulong(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

// AsBool decodes a CK_BBOOL value.
func AsBool(v []byte) (bool, error) {
	if len(v) != 1 {
		return false, fmt.Errorf("a CK_BBOOL is one byte, not %d", len(v))
	}
	return v[0] != 0, nil
}

// AsUlong decodes a CK_ULONG value.
func AsUlong(v []byte) (uint64, error) {
	if len(v) != 8 {
		return 0, fmt.Errorf("a CK_ULONG is eight bytes on the wire, not %d", len(v))
	}
	return binary.LittleEndian.Uint64(v), nil
}

// AttrName returns the spec name of attribute type t, or its number.
func AttrName(t uint64) string {
	if s, ok := attrNames[t]; ok {
		return s
	}
	return fmt.Sprintf("CKA_0x%X", t)
}

// MechName returns the spec name of mechanism m, or its number.
func MechName(m uint64) string {
	if s, ok := mechNames[m]; ok {
		return s
	}
	return fmt.Sprintf("CKM_0x%X", m)
}

// PSSParams is CK_RSA_PKCS_PSS_PARAMS. On the wire (Mechanism.Param) it is
// three CK_ULONGs in the canonical eight-byte form.
type PSSParams struct {
	Hash, MGF, SaltLen uint64
}

// Encode returns the wire form.
func (p PSSParams) Encode() []byte {
	return append(append(Ulong(p.Hash), Ulong(p.MGF)...), Ulong(p.SaltLen)...)
}

// DecodePSS reads the wire form.
func DecodePSS(b []byte) (PSSParams, error) {
	if len(b) != 24 {
		return PSSParams{}, fmt.Errorf("PSS parameters are 24 bytes on the wire, not %d", len(b))
	}
	h, _ := AsUlong(b[:8])
	m, _ := AsUlong(b[8:16])
	s, _ := AsUlong(b[16:])
	return PSSParams{h, m, s}, nil
}

// CTRParams is CK_AES_CTR_PARAMS; on the wire a CK_ULONG (eight bytes)
// and the sixteen-byte counter block.
type CTRParams struct {
	CounterBits uint64
	Block       [16]byte
}

// Encode returns the wire form.
func (p CTRParams) Encode() []byte { return append(Ulong(p.CounterBits), p.Block[:]...) }

// DecodeCTR reads the wire form.
func DecodeCTR(b []byte) (CTRParams, error) {
	var p CTRParams
	if len(b) != 24 {
		return p, fmt.Errorf("CTR parameters are 24 bytes on the wire, not %d", len(b))
	}
	p.CounterBits, _ = AsUlong(b[:8])
	copy(p.Block[:], b[8:])
	return p, nil
}

// OAEPParams is CK_RSA_PKCS_OAEP_PARAMS; on the wire three CK_ULONGs in
// the canonical form, then the source data (the label).
type OAEPParams struct {
	Hash, MGF, Source uint64
	Label             []byte
}

// Encode returns the wire form.
func (p OAEPParams) Encode() []byte {
	b := append(append(Ulong(p.Hash), Ulong(p.MGF)...), Ulong(p.Source)...)
	return append(b, p.Label...)
}

// DecodeOAEP reads the wire form.
func DecodeOAEP(b []byte) (OAEPParams, error) {
	if len(b) < 24 {
		return OAEPParams{}, fmt.Errorf("OAEP parameters are at least 24 bytes on the wire, not %d", len(b))
	}
	h, _ := AsUlong(b[:8])
	m, _ := AsUlong(b[8:16])
	s, _ := AsUlong(b[16:24])
	return OAEPParams{Hash: h, MGF: m, Source: s, Label: b[24:]}, nil
}
