package tpm

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/google/go-tpm/tpm2"
)

// KeyKind is the type of a TPM key.
type KeyKind uint8

// The kinds of key the package creates and imports.
const (
	KindRSA  KeyKind = iota + 1 // TPM_ALG_RSA
	KindECC                     // TPM_ALG_ECC
	KindAES                     // TPM_ALG_SYMCIPHER with AES
	KindHMAC                    // TPM_ALG_KEYEDHASH with the HMAC scheme
	KindTDES                    // TPM_ALG_SYMCIPHER with TDES: created only, not imported
)

func (k KeyKind) String() string {
	switch k {
	case KindRSA:
		return "RSA"
	case KindECC:
		return "ECC"
	case KindAES:
		return "AES"
	case KindHMAC:
		return "HMAC"
	case KindTDES:
		return "TDES"
	}
	return fmt.Sprintf("KeyKind(%d)", uint8(k))
}

// KeySpec describes a key to create or import.
type KeySpec struct {
	Kind KeyKind
	// Bits is the RSA modulus, AES or TDES key size (TDES: 128 for
	// two-key, 192 for three-key, parity bits included). ImportKey takes
	// it from the key when zero.
	Bits int
	// Curve is the ECC curve: elliptic.P256(), P384() or P521(). ImportKey
	// takes it from the key when nil.
	Curve elliptic.Curve
	// Hash is the hash of an HMAC key. A created HMAC key is as long as
	// Hash's digest.
	Hash crypto.Hash
	// Sign allows signing (RSA, ECC), computing HMACs, or encrypting (AES,
	// TDES: TPM 2.0's sign/encrypt attribute).
	Sign bool
	// Decrypt allows decrypting (RSA, AES, TDES) or, for ECC, key agreement.
	Decrypt bool
}

// KeyBlob is a key wrapped by the TPM under its storage primary key: the
// marshalled TPM2B_PUBLIC and TPM2B_PRIVATE. The private part is encrypted
// and integrity-protected by the TPM; only the TPM holding the same owner
// seed can load it, and using it takes the key's authorization value.
type KeyBlob struct {
	Public  []byte
	Private []byte
}

// PublicKey returns the public key in k: an *rsa.PublicKey or an
// *ecdsa.PublicKey, or nil for AES and HMAC keys. It needs no TPM.
func (k KeyBlob) PublicKey() (crypto.PublicKey, error) {
	pk, err := parsed.get(k)
	if err != nil {
		return nil, err
	}
	return PublicKeyOf(pk.area)
}

// CreateKey creates a key in the TPM under the storage primary key and
// returns it wrapped, with its public key (nil for AES and HMAC). The key is
// usable with auth (at most MaxAuth bytes), exempt from dictionary-attack
// protection (noDA: auth must be a random full-size value), and cannot leave this TPM (fixedTPM, fixedParent). auth
// travels encrypted by a session salted with the storage primary key.
func (t *TPM) CreateKey(spec KeySpec, auth []byte) (KeyBlob, crypto.PublicKey, error) {
	tmpl, err := createTemplate(spec)
	if err == nil && len(auth) > MaxAuth {
		err = fmt.Errorf("auth of %d bytes too long", len(auth))
	}
	if err != nil {
		return KeyBlob{}, nil, fmt.Errorf("creating %v key: %w", spec.Kind, err)
	}
	pubArea, privArea, err := t.createUnderSRK(&tpm2.TPMSSensitiveCreate{UserAuth: tpm2.TPM2BAuth{Buffer: auth}}, tmpl)
	if err != nil {
		return KeyBlob{}, nil, fmt.Errorf("creating %v key: %w", spec.Kind, err)
	}
	k := KeyBlob{Public: pubArea, Private: privArea}
	pub, err := k.PublicKey()
	if err != nil {
		return KeyBlob{}, nil, fmt.Errorf("creating %v key: %w", spec.Kind, err)
	}
	return k, pub, nil
}

// createUnderSRK creates an object under the storage primary key, its
// sensitive part travelling encrypted by a session salted with that key,
// and returns the object's public and private areas, marshalled.
func (t *TPM) createUnderSRK(sens *tpm2.TPMSSensitiveCreate, tmpl tpm2.TPM2BPublic) (public, private []byte, err error) {
	err = t.do(func(l locked) error {
		srk := l.t.srk
		sess, closeSess, err := l.session(srk, nil, tpm2.AESEncryption(128, tpm2.EncryptIn))
		if err != nil {
			return err
		}
		defer closeSess()
		rsp, err := tpm2.Create{
			ParentHandle: tpm2.AuthHandle{Handle: srk.Handle, Name: srk.Name, Auth: sess},
			InSensitive:  tpm2.TPM2BSensitiveCreate{Sensitive: sens},
			InPublic:     tmpl,
		}.Execute(l)
		if err != nil {
			return err
		}
		public, private = tpm2.Marshal(rsp.OutPublic), tpm2.Marshal(rsp.OutPrivate)
		return nil
	})
	return public, private, err
}

// createTemplate is keyTemplate(spec, true) as a TPM2B_PUBLIC; a TDES
// key's, which go-tpm cannot marshal, is marshalled by hand (tdes.go).
func createTemplate(spec KeySpec) (tpm2.TPM2BPublic, error) {
	if spec.Kind != KindTDES {
		tmpl, err := keyTemplate(spec, true)
		return tpm2.New2B(tmpl), err
	}
	// keyTemplate's attributes, on the template of an AES key.
	aes, err := keyTemplate(KeySpec{Kind: KindAES, Bits: 128, Sign: spec.Sign, Decrypt: spec.Decrypt}, true)
	if err != nil {
		return tpm2.TPM2BPublic{}, err
	}
	b, err := tdesPublic(spec.Bits, aes.ObjectAttributes)
	return tpm2.BytesAs2B[tpm2.TPMTPublic](b), err
}

// keyTemplate returns the public area of a key with spec's algorithm and
// usage, its scheme left NULL so that each command picks one. created
// marks a key made in the TPM (fixed to it); an imported key must be
// duplicable to be imported at all (TPM 2.0 Part 3, 13.3), but has no
// policy, so TPM2_Duplicate can never authorize moving it again.
func keyTemplate(spec KeySpec, created bool) (tpm2.TPMTPublic, error) {
	if !spec.Sign && !spec.Decrypt {
		return tpm2.TPMTPublic{}, errors.New("key allows neither signing nor decryption")
	}
	t := tpm2.TPMTPublic{
		NameAlg: tpm2.TPMAlgSHA256,
		ObjectAttributes: tpm2.TPMAObject{
			FixedTPM:            created,
			FixedParent:         created,
			SensitiveDataOrigin: created,
			UserWithAuth:        true,
			// Callers give keys random full-size authorizations, which
			// no one guesses: their use must not count against, nor stop
			// at, the TPM's dictionary-attack lockout that PIN guesses
			// on sealed objects drive (TPM 2.0 Part 1, 19.8.4; Part 2,
			// 8.3.3.1 noDA). Keys made before this stay DA-protected:
			// the attributes of a created object cannot change.
			NoDA:        true,
			SignEncrypt: spec.Sign,
			Decrypt:     spec.Decrypt,
		},
	}
	var err error
	switch spec.Kind {
	case KindRSA:
		t.Type, t.Parameters, t.Unique, err = rsaParams(spec.Bits)
	case KindECC:
		t.Type, t.Parameters, t.Unique, err = eccParams(spec.Curve)
	case KindAES:
		t.Type, t.Parameters, t.Unique, err = aesParams(spec.Bits)
	case KindTDES:
		err = fmt.Errorf("%w: TDES keys are created, never imported", ErrUnsupported)
	case KindHMAC:
		if spec.Decrypt {
			return tpm2.TPMTPublic{}, errors.New("an HMAC key cannot decrypt")
		}
		t.Type, t.Parameters, t.Unique, err = hmacParams(spec.Hash)
	default:
		err = fmt.Errorf("unknown key kind %d", spec.Kind)
	}
	return t, err
}

func rsaParams(bits int) (tpm2.TPMAlgID, tpm2.TPMUPublicParms, tpm2.TPMUPublicID, error) {
	if bits <= 0 || bits > 1<<14 || bits%8 != 0 {
		return 0, tpm2.TPMUPublicParms{}, tpm2.TPMUPublicID{}, fmt.Errorf("%w: RSA key of %d bits", ErrUnsupported, bits)
	}
	return tpm2.TPMAlgRSA, tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{
			Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
			Scheme:    tpm2.TPMTRSAScheme{Scheme: tpm2.TPMAlgNull},
			KeyBits:   tpm2.TPMKeyBits(bits),
		}),
		tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{}), nil
}

func eccParams(c elliptic.Curve) (tpm2.TPMAlgID, tpm2.TPMUPublicParms, tpm2.TPMUPublicID, error) {
	id, err := curveID(c)
	if err != nil {
		return 0, tpm2.TPMUPublicParms{}, tpm2.TPMUPublicID{}, err
	}
	return tpm2.TPMAlgECC, tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
			Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
			Scheme:    tpm2.TPMTECCScheme{Scheme: tpm2.TPMAlgNull},
			CurveID:   id,
			KDF:       tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
		}),
		tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{}), nil
}

func aesParams(bits int) (tpm2.TPMAlgID, tpm2.TPMUPublicParms, tpm2.TPMUPublicID, error) {
	if bits != 128 && bits != 192 && bits != 256 {
		return 0, tpm2.TPMUPublicParms{}, tpm2.TPMUPublicID{}, fmt.Errorf("%w: AES key of %d bits", ErrUnsupported, bits)
	}
	return tpm2.TPMAlgSymCipher, tpm2.NewTPMUPublicParms(tpm2.TPMAlgSymCipher, &tpm2.TPMSSymCipherParms{
			Sym: tpm2.TPMTSymDefObject{
				Algorithm: tpm2.TPMAlgAES,
				KeyBits:   tpm2.NewTPMUSymKeyBits(tpm2.TPMAlgAES, tpm2.TPMKeyBits(bits)),
				Mode:      tpm2.NewTPMUSymMode(tpm2.TPMAlgAES, tpm2.TPMAlgNull),
			},
		}),
		tpm2.NewTPMUPublicID(tpm2.TPMAlgSymCipher, &tpm2.TPM2BDigest{}), nil
}

func hmacParams(h crypto.Hash) (tpm2.TPMAlgID, tpm2.TPMUPublicParms, tpm2.TPMUPublicID, error) {
	alg, err := hashAlg(h)
	if err != nil {
		return 0, tpm2.TPMUPublicParms{}, tpm2.TPMUPublicID{}, err
	}
	return tpm2.TPMAlgKeyedHash, tpm2.NewTPMUPublicParms(tpm2.TPMAlgKeyedHash, &tpm2.TPMSKeyedHashParms{
			Scheme: tpm2.TPMTKeyedHashScheme{
				Scheme:  tpm2.TPMAlgHMAC,
				Details: tpm2.NewTPMUSchemeKeyedHash(tpm2.TPMAlgHMAC, &tpm2.TPMSSchemeHMAC{HashAlg: alg}),
			},
		}),
		tpm2.NewTPMUPublicID(tpm2.TPMAlgKeyedHash, &tpm2.TPM2BDigest{}), nil
}

// curves maps the curves the package knows to their TPM names.
var curves = []struct {
	curve elliptic.Curve
	id    tpm2.TPMECCCurve
}{
	{elliptic.P256(), tpm2.TPMECCNistP256},
	{elliptic.P384(), tpm2.TPMECCNistP384},
	{elliptic.P521(), tpm2.TPMECCNistP521},
}

func curveID(c elliptic.Curve) (tpm2.TPMECCCurve, error) {
	for _, e := range curves {
		if c == e.curve {
			return e.id, nil
		}
	}
	return 0, fmt.Errorf("%w: curve %v", ErrUnsupported, c)
}

func curveOf(id tpm2.TPMECCCurve) (elliptic.Curve, error) {
	for _, e := range curves {
		if id == e.id {
			return e.curve, nil
		}
	}
	return nil, fmt.Errorf("%w: TPM curve 0x%04x", ErrUnsupported, uint16(id))
}

// hashes maps the hashes the package knows to their TPM names.
var hashes = []struct {
	hash crypto.Hash
	alg  tpm2.TPMAlgID
}{
	{crypto.SHA1, tpm2.TPMAlgSHA1},
	{crypto.SHA256, tpm2.TPMAlgSHA256},
	{crypto.SHA384, tpm2.TPMAlgSHA384},
	{crypto.SHA512, tpm2.TPMAlgSHA512},
}

func hashAlg(h crypto.Hash) (tpm2.TPMAlgID, error) {
	for _, e := range hashes {
		if h == e.hash {
			return e.alg, nil
		}
	}
	return 0, fmt.Errorf("%w: hash %v", ErrUnsupported, h)
}

// PublicKeyOf converts an RSA or ECC public area to a Go key
// (*rsa.PublicKey, *ecdsa.PublicKey); symmetric keys have none (nil,
// nil). A curve the package does not know is an error wrapping
// ErrUnsupported.
func PublicKeyOf(area *tpm2.TPMTPublic) (crypto.PublicKey, error) {
	switch area.Type {
	case tpm2.TPMAlgRSA:
		return tpm2.Pub(*area)
	case tpm2.TPMAlgECC:
		parms, err := area.Parameters.ECCDetail()
		if err != nil {
			return nil, err
		}
		pt, err := area.Unique.ECC()
		if err != nil {
			return nil, err
		}
		c, err := curveOf(parms.CurveID)
		if err != nil {
			return nil, err
		}
		size := (c.Params().BitSize + 7) / 8
		if len(pt.X.Buffer) > size || len(pt.Y.Buffer) > size {
			return nil, errors.New("ECC point coordinates too long")
		}
		raw := make([]byte, 1+2*size)
		raw[0] = 4 // uncompressed (SEC 1, 2.3.3)
		copy(raw[1+size-len(pt.X.Buffer):], pt.X.Buffer)
		copy(raw[1+2*size-len(pt.Y.Buffer):], pt.Y.Buffer)
		return ecdsa.ParseUncompressedPublicKey(c, raw)
	}
	return nil, nil
}

// parsedKey is a decoded KeyBlob.
type parsedKey struct {
	id   [sha256.Size]byte // identifies the blob in the loaded-key cache
	pub  tpm2.TPM2BPublic
	priv tpm2.TPM2BPrivate
	area *tpm2.TPMTPublic // shared by every copy: read only
	// tdesBits is a TDES key's size, 0 for other keys; a TDES key's area
	// lacks its parameters (see parseTDESPublic).
	tdesBits int
}

// parseKey decodes k, refusing trailing bytes and objects that are not
// keys. Decoding with go-tpm's reflection costs some 50 µs, a twelfth of an
// ECDSA signature on swtpm, so the keys in use are kept decoded, by their
// id: the SHA-256 of the blob's bytes.
func (t *TPM) parseKey(k KeyBlob) (parsedKey, error) { return parsed.get(k) }

// parsed holds the keys decoded lately, for every TPM: a key's bytes
// decode the same whatever TPM they are for.
var parsed keyMemo

type keyMemo struct {
	mu   sync.Mutex
	keys map[[sha256.Size]byte]parsedKey
}

func (m *keyMemo) get(k KeyBlob) (parsedKey, error) {
	id := keyID(k)
	m.mu.Lock()
	pk, ok := m.keys[id]
	m.mu.Unlock()
	if ok {
		return pk, nil
	}
	pk, err := parseKey(k, id)
	if err != nil {
		return parsedKey{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.keys) >= maxParsed {
		for old := range m.keys { // any one
			delete(m.keys, old)
			break
		}
	}
	if m.keys == nil {
		m.keys = make(map[[sha256.Size]byte]parsedKey)
	}
	m.keys[id] = pk
	return pk, nil
}

// maxParsed bounds the decoded keys TPM.parseKey keeps.
const maxParsed = 64

// keyID identifies k's bytes. The name covers the public area only, and the
// same key under another auth value has another private blob: the caches go
// by both.
func keyID(k KeyBlob) [sha256.Size]byte {
	h := sha256.New()
	h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(k.Public))))
	h.Write(k.Public)
	h.Write(k.Private)
	var id [sha256.Size]byte
	h.Sum(id[:0])
	return id
}

func parseKey(k KeyBlob, id [sha256.Size]byte) (parsedKey, error) {
	pub, err := tpm2.Unmarshal[tpm2.TPM2BPublic](k.Public)
	if err != nil || !bytes.Equal(tpm2.Marshal(*pub), k.Public) {
		return parsedKey{}, errors.New("malformed public blob")
	}
	priv, err := tpm2.Unmarshal[tpm2.TPM2BPrivate](k.Private)
	if err != nil || !bytes.Equal(tpm2.Marshal(*priv), k.Private) {
		return parsedKey{}, errors.New("malformed private blob")
	}
	area, tdesBits, err := publicArea(pub)
	if err != nil {
		return parsedKey{}, err
	}
	a := area.ObjectAttributes
	if !a.SignEncrypt && !a.Decrypt || a.Restricted {
		return parsedKey{}, errors.New("public blob is not a usable key")
	}
	return parsedKey{id: id, pub: *pub, priv: *priv, area: area, tdesBits: tdesBits}, nil
}

// publicArea decodes pub's area with go-tpm or, for the TDES keys go-tpm
// cannot decode, by hand; tdesBits is the TDES key size, or 0.
func publicArea(pub *tpm2.TPM2BPublic) (area *tpm2.TPMTPublic, tdesBits int, err error) {
	if area, err = pub.Contents(); err == nil {
		return area, 0, nil
	}
	if area, tdesBits, err = parseTDESPublic(pub.Bytes()); err != nil {
		return nil, 0, errors.New("malformed public area")
	}
	return area, tdesBits, nil
}

// check returns ErrUsage unless the key is of type typ and has the
// attribute the operation needs.
func (pk parsedKey) check(op string, typ tpm2.TPMAlgID, decrypt bool) error {
	if pk.area.Type != typ {
		return fmt.Errorf("%w: %s needs a key of type 0x%04x, not 0x%04x", ErrUsage, op, uint16(typ), uint16(pk.area.Type))
	}
	a := pk.area.ObjectAttributes
	if decrypt && !a.Decrypt || !decrypt && !a.SignEncrypt {
		return fmt.Errorf("%w: the key's attributes forbid %s", ErrUsage, op)
	}
	return nil
}
