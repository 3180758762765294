package signer

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"sync"

	"github.com/miekg/pkcs11"
)

// tokenSigner signs with a private key in a PKCS#11 token, through one
// session that it holds until Close.
type tokenSigner struct {
	mu     sync.Mutex
	ctx    *pkcs11.Ctx
	sess   pkcs11.SessionHandle
	key    pkcs11.ObjectHandle
	pub    crypto.PublicKey
	module string
	closed bool
}

// modules holds each loaded module once per process: C_Initialize and
// C_Finalize are per process, so a signer's Close must not finalize the
// module under another signer still open on it.
var modules = moduleSet{m: map[string]*module{}}

type moduleSet struct {
	mu sync.Mutex
	m  map[string]*module
}

type module struct {
	ctx  *pkcs11.Ctx
	refs int
}

// open loads and initializes the module at path, or takes another
// reference to it.
func (ms *moduleSet) open(path string) (*pkcs11.Ctx, error) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if m := ms.m[path]; m != nil {
		m.refs++
		return m.ctx, nil
	}
	ctx := pkcs11.New(path)
	if ctx == nil {
		return nil, fmt.Errorf("pkcs11: cannot load module %s", path)
	}
	if err := ctx.Initialize(); err != nil && !isRV(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		ctx.Destroy()
		return nil, fmt.Errorf("pkcs11: C_Initialize: %w", err)
	}
	ms.m[path] = &module{ctx: ctx, refs: 1}
	return ctx, nil
}

// release drops a reference and finalizes and unloads the module with
// the last one.
func (ms *moduleSet) release(path string) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	m := ms.m[path]
	if m == nil {
		return
	}
	if m.refs--; m.refs == 0 {
		delete(ms.m, path)
		m.ctx.Finalize()
		m.ctx.Destroy()
	}
}

// openToken loads u's module, finds its one matching token and key, and
// logs in when u carries a PIN.
func openToken(u URI) (_ *tokenSigner, err error) {
	ctx, err := modules.open(u.ModulePath)
	if err != nil {
		return nil, err
	}
	s := &tokenSigner{ctx: ctx, module: u.ModulePath}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	slot, err := findSlot(ctx, u)
	if err != nil {
		return nil, err
	}
	if s.sess, err = ctx.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION); err != nil {
		return nil, fmt.Errorf("pkcs11: C_OpenSession: %w", err)
	}
	if u.HasPIN {
		if err := ctx.Login(s.sess, pkcs11.CKU_USER, u.PIN); err != nil && !isRV(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN) {
			return nil, fmt.Errorf("pkcs11: C_Login: %w", err)
		}
	}
	if s.key, err = findKey(ctx, s.sess, u); err != nil {
		return nil, err
	}
	if s.pub, err = publicKey(ctx, s.sess, s.key, u); err != nil {
		return nil, err
	}
	return s, nil
}

func isRV(err error, rv uint) bool {
	var e pkcs11.Error
	return errors.As(err, &e) && uint(e) == rv
}

// findSlot returns the slot of the one token that matches u.
func findSlot(ctx *pkcs11.Ctx, u URI) (uint, error) {
	slots, err := ctx.GetSlotList(true)
	if err != nil {
		return 0, fmt.Errorf("pkcs11: C_GetSlotList: %w", err)
	}
	var found []uint
	for _, slot := range slots {
		if u.SlotID != nil && *u.SlotID != slot {
			continue
		}
		ti, err := ctx.GetTokenInfo(slot)
		if err != nil {
			continue
		}
		if matches(u.Token, ti.Label) && matches(u.Manufacturer, ti.ManufacturerID) && matches(u.Serial, ti.SerialNumber) {
			found = append(found, slot)
		}
	}
	switch len(found) {
	case 0:
		return 0, fmt.Errorf("pkcs11: no token matches (token=%q) in %s", u.Token, u.ModulePath)
	case 1:
		return found[0], nil
	default:
		return 0, fmt.Errorf("pkcs11: %d tokens match: name one with token= or slot-id=", len(found))
	}
}

// matches compares a URI attribute with a blank-padded CK_TOKEN_INFO
// field; an empty attribute matches anything.
func matches(want, have string) bool {
	return want == "" || want == strings.TrimRight(have, " \x00")
}

// findKey returns the one private key that u's object and id name.
func findKey(ctx *pkcs11.Ctx, sess pkcs11.SessionHandle, u URI) (pkcs11.ObjectHandle, error) {
	tmpl := []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY)}
	tmpl = append(tmpl, objectAttrs(u)...)
	objs, err := findObjects(ctx, sess, tmpl)
	if err != nil {
		return 0, err
	}
	switch len(objs) {
	case 0:
		hint := ""
		if !u.HasPIN {
			hint = " (private keys are often visible only after login: add pin-value= or pin-source=)"
		}
		return 0, fmt.Errorf("pkcs11: no private key with object=%q id=%x%s", u.Object, u.ID, hint)
	case 1:
		return objs[0], nil
	default:
		return 0, fmt.Errorf("pkcs11: %d private keys match object=%q id=%x", len(objs), u.Object, u.ID)
	}
}

func objectAttrs(u URI) []*pkcs11.Attribute {
	var a []*pkcs11.Attribute
	if u.Object != "" {
		a = append(a, pkcs11.NewAttribute(pkcs11.CKA_LABEL, u.Object))
	}
	if u.ID != nil {
		a = append(a, pkcs11.NewAttribute(pkcs11.CKA_ID, u.ID))
	}
	return a
}

// maxObjects bounds one search: a URI names one key.
const maxObjects = 16

func findObjects(ctx *pkcs11.Ctx, sess pkcs11.SessionHandle, tmpl []*pkcs11.Attribute) ([]pkcs11.ObjectHandle, error) {
	if err := ctx.FindObjectsInit(sess, tmpl); err != nil {
		return nil, fmt.Errorf("pkcs11: C_FindObjectsInit: %w", err)
	}
	objs, _, err := ctx.FindObjects(sess, maxObjects)
	if ferr := ctx.FindObjectsFinal(sess); err == nil && ferr != nil {
		err = ferr
	}
	if err != nil {
		return nil, fmt.Errorf("pkcs11: C_FindObjects: %w", err)
	}
	return objs, nil
}

// publicKey reads the key's public half: RSA's from the private object,
// an EC point from the matching public-key object, as a private EC key
// has no CKA_EC_POINT.
func publicKey(ctx *pkcs11.Ctx, sess pkcs11.SessionHandle, key pkcs11.ObjectHandle, u URI) (crypto.PublicKey, error) {
	attrs, err := ctx.GetAttributeValue(sess, key, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, nil)})
	if err != nil || len(attrs) != 1 {
		return nil, fmt.Errorf("pkcs11: reading the key type: %v", err)
	}
	switch kt := bytesToUint(attrs[0].Value); kt {
	case pkcs11.CKK_RSA:
		a, err := ctx.GetAttributeValue(sess, key, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS, nil), pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, nil),
		})
		if err != nil {
			return nil, fmt.Errorf("pkcs11: reading the RSA modulus: %w", err)
		}
		e := new(big.Int).SetBytes(a[1].Value)
		if !e.IsInt64() || e.Int64() > 1<<31-1 {
			return nil, errors.New("pkcs11: RSA public exponent too large")
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(a[0].Value), E: int(e.Int64())}, nil
	case pkcs11.CKK_EC:
		tmpl := append([]*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY)}, objectAttrs(u)...)
		objs, err := findObjects(ctx, sess, tmpl)
		if err != nil {
			return nil, err
		}
		if len(objs) != 1 {
			return nil, fmt.Errorf("pkcs11: found %d public keys beside the private key, want 1", len(objs))
		}
		a, err := ctx.GetAttributeValue(sess, objs[0], []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, nil), pkcs11.NewAttribute(pkcs11.CKA_EC_POINT, nil),
		})
		if err != nil {
			return nil, fmt.Errorf("pkcs11: reading the EC point: %w", err)
		}
		return ecPublicKey(a[0].Value, a[1].Value)
	default:
		return nil, fmt.Errorf("%w: PKCS#11 key type %#x", ErrUnsupportedKey, kt)
	}
}

func bytesToUint(b []byte) uint {
	var n uint
	for i := len(b) - 1; i >= 0; i-- { // CK_ULONG in host (little-endian) order
		n = n<<8 | uint(b[i])
	}
	return n
}

var curveOIDs = map[string]elliptic.Curve{
	"1.2.840.10045.3.1.7": elliptic.P256(),
	"1.3.132.0.34":        elliptic.P384(),
	"1.3.132.0.35":        elliptic.P521(),
}

// ecPublicKey decodes CKA_EC_PARAMS (a named curve's OID) and CKA_EC_POINT
// (an uncompressed point, DER-wrapped in an OCTET STRING as PKCS#11 v2.40
// says, or bare as some tokens give it).
func ecPublicKey(params, point []byte) (*ecdsa.PublicKey, error) {
	var oid asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(params, &oid); err != nil {
		return nil, fmt.Errorf("pkcs11: CKA_EC_PARAMS is not a named curve: %w", err)
	}
	curve, ok := curveOIDs[oid.String()]
	if !ok {
		return nil, fmt.Errorf("%w: curve %s", ErrUnsupportedKey, oid)
	}
	var raw []byte
	if rest, err := asn1.Unmarshal(point, &raw); err != nil || len(rest) != 0 {
		raw = point
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, raw)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: CKA_EC_POINT: %w", err)
	}
	return pub, nil
}

// Public returns the key's public half.
func (s *tokenSigner) Public() crypto.PublicKey { return s.pub }

// Sign signs digest in the token: ECDSA as an ASN.1 signature, RSA as
// PKCS #1 v1.5 (or PSS when opts is *rsa.PSSOptions), as crypto.Signer
// says.
func (s *tokenSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	mech, input, err := s.mechanism(digest, opts)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("pkcs11: signer closed")
	}
	if err := s.ctx.SignInit(s.sess, []*pkcs11.Mechanism{mech}, s.key); err != nil {
		return nil, fmt.Errorf("pkcs11: C_SignInit: %w", err)
	}
	sig, err := s.ctx.Sign(s.sess, input)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: C_Sign: %w", err)
	}
	if _, ok := s.pub.(*ecdsa.PublicKey); ok {
		return ecdsaASN1(sig)
	}
	return sig, nil
}

// mechanism picks the PKCS#11 mechanism and its input for digest.
func (s *tokenSigner) mechanism(digest []byte, opts crypto.SignerOpts) (*pkcs11.Mechanism, []byte, error) {
	h := opts.HashFunc()
	if h != 0 && len(digest) != h.Size() {
		return nil, nil, fmt.Errorf("pkcs11: digest of %d bytes for %v", len(digest), h)
	}
	switch s.pub.(type) {
	case *ecdsa.PublicKey:
		return pkcs11.NewMechanism(pkcs11.CKM_ECDSA, nil), digest, nil
	case *rsa.PublicKey:
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			return pssMechanism(h, pss, s.pub.(*rsa.PublicKey)), digest, nil
		}
		prefix, ok := digestInfo[h]
		if !ok {
			return nil, nil, fmt.Errorf("pkcs11: RSA PKCS #1 v1.5 with %v is not supported", h)
		}
		return pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS, nil), append(bytes.Clone(prefix), digest...), nil
	}
	return nil, nil, ErrUnsupportedKey
}

func pssMechanism(h crypto.Hash, o *rsa.PSSOptions, pub *rsa.PublicKey) *pkcs11.Mechanism {
	hashes := map[crypto.Hash][2]uint{
		crypto.SHA256: {pkcs11.CKM_SHA256, pkcs11.CKG_MGF1_SHA256},
		crypto.SHA384: {pkcs11.CKM_SHA384, pkcs11.CKG_MGF1_SHA384},
		crypto.SHA512: {pkcs11.CKM_SHA512, pkcs11.CKG_MGF1_SHA512},
	}
	salt := o.SaltLength
	switch salt {
	case rsa.PSSSaltLengthEqualsHash:
		salt = h.Size()
	case rsa.PSSSaltLengthAuto:
		salt = (pub.N.BitLen()-1+7)/8 - 2 - h.Size()
	}
	p := hashes[h]
	return pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_PSS, pkcs11.NewPSSParams(p[0], p[1], uint(salt)))
}

// digestInfo holds the DER DigestInfo prefixes of PKCS #1 v2.2 §9.2,
// note 1, which CKM_RSA_PKCS expects before the digest.
var digestInfo = map[crypto.Hash][]byte{
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}

// ecdsaASN1 turns PKCS#11's r||s into the ASN.1 form crypto.Signer uses.
func ecdsaASN1(sig []byte) ([]byte, error) {
	if len(sig) == 0 || len(sig)%2 != 0 {
		return nil, fmt.Errorf("pkcs11: ECDSA signature of %d bytes", len(sig))
	}
	n := len(sig) / 2
	return asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])})
}

// Close closes the session, and finalizes and unloads the module when no
// other signer of this process uses it. (The login is the token's, shared
// by every session of the process, as PKCS#11 has it: closing the last
// session logs out.)
func (s *tokenSigner) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.sess != 0 {
		s.ctx.CloseSession(s.sess)
	}
	modules.release(s.module)
	return nil
}
