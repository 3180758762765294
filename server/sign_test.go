package server

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"tep.dev/tep/p11"
)

var (
	oidP256 = mustOID(asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7})
	oidP384 = mustOID(asn1.ObjectIdentifier{1, 3, 132, 0, 34})
)

// publicOf rebuilds the Go public key of a public key object.
func publicOf(t *testing.T, c interface {
	AttributeValues(s, o uint64, types []uint64) ([]p11.AttrValue, error)
}, s, h uint64) crypto.PublicKey {
	t.Helper()
	v, err := c.AttributeValues(s, h, []uint64{p11.CKA_KEY_TYPE, p11.CKA_MODULUS, p11.CKA_PUBLIC_EXPONENT, p11.CKA_EC_PARAMS, p11.CKA_EC_POINT})
	if err != nil && !isRV(err, p11.CKR_ATTRIBUTE_TYPE_INVALID) {
		t.Fatal(err)
	}
	kt, _ := p11.AsUlong(v[0].Value)
	pub, err := publicKey(kt, map[uint64][]byte{
		p11.CKA_MODULUS: v[1].Value, p11.CKA_PUBLIC_EXPONENT: v[2].Value,
		p11.CKA_EC_PARAMS: v[3].Value, p11.CKA_EC_POINT: v[4].Value,
	})
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func isRV(err error, rv p11.RV) bool {
	got, ok := err.(p11.RV)
	return ok && got == rv
}

// TestKeyPairsSignInTheTPM generates key pairs in the TPM and checks their
// signatures with Go's crypto and with the token's own verification.
func TestKeyPairsSignInTheTPM(t *testing.T) {
	f := newFixture(t, "sim")
	c := f.dial(t)
	s, _ := c.OpenSession(1, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	rsaGen := p11.Mechanism{Type: p11.CKM_RSA_PKCS_KEY_PAIR_GEN}
	rsaPub := []p11.Attribute{attr(p11.CKA_MODULUS_BITS, p11.Ulong(2048)), attr(p11.CKA_LABEL, []byte("rsa"))}
	_, _, err := c.GenerateKeyPair(s, rsaGen, rsaPub, nil)
	wantRV(t, "key generation before login", err, p11.CKR_USER_NOT_LOGGED_IN)
	if err := c.Login(s, p11.CKU_USER, []byte(userPIN)); err != nil {
		t.Fatal(err)
	}
	rpub, rpriv, err := c.GenerateKeyPair(s, rsaGen, rsaPub, []p11.Attribute{attr(p11.CKA_TOKEN, p11.Bool(true))})
	if err != nil {
		t.Fatal(err)
	}
	epub, epriv, err := c.GenerateKeyPair(s, p11.Mechanism{Type: p11.CKM_EC_KEY_PAIR_GEN}, []p11.Attribute{attr(p11.CKA_EC_PARAMS, oidP256)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e384pub, e384priv, err := c.GenerateKeyPair(s, p11.Mechanism{Type: p11.CKM_EC_KEY_PAIR_GEN}, []p11.Attribute{attr(p11.CKA_EC_PARAMS, oidP384)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("This is the message the TPM signs")
	sum256, sum384 := sha256.Sum256(msg), sha512.Sum384(msg)
	pss := p11.PSSParams{Hash: p11.CKM_SHA256, MGF: p11.CKG_MGF1_SHA256, SaltLen: 32}.Encode()
	for _, tt := range []struct {
		name      string
		mech      p11.Mechanism
		pub, priv uint64
		data      []byte
		check     func(pub crypto.PublicKey, sig []byte) bool
	}{
		{"SHA256_RSA_PKCS", p11.Mechanism{Type: p11.CKM_SHA256_RSA_PKCS}, rpub, rpriv, msg, func(k crypto.PublicKey, sig []byte) bool {
			return rsa.VerifyPKCS1v15(k.(*rsa.PublicKey), crypto.SHA256, sum256[:], sig) == nil
		}},
		{"SHA256_RSA_PKCS_PSS", p11.Mechanism{Type: p11.CKM_SHA256_RSA_PKCS_PSS, Param: pss}, rpub, rpriv, msg, func(k crypto.PublicKey, sig []byte) bool {
			return rsa.VerifyPSS(k.(*rsa.PublicKey), crypto.SHA256, sum256[:], sig, &rsa.PSSOptions{SaltLength: 32}) == nil
		}},
		{"ECDSA P-256 on a digest", p11.Mechanism{Type: p11.CKM_ECDSA}, epub, epriv, sum256[:], func(k crypto.PublicKey, sig []byte) bool {
			return len(sig) == 64 && ecdsa.Verify(k.(*ecdsa.PublicKey), sum256[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
		}},
		{"ECDSA_SHA384 P-384", p11.Mechanism{Type: p11.CKM_ECDSA_SHA384}, e384pub, e384priv, msg, func(k crypto.PublicKey, sig []byte) bool {
			return len(sig) == 96 && ecdsa.Verify(k.(*ecdsa.PublicKey), sum384[:], new(big.Int).SetBytes(sig[:48]), new(big.Int).SetBytes(sig[48:]))
		}},
	} {
		if err := c.SignInit(s, tt.mech, tt.priv); err != nil {
			t.Fatalf("%s: SignInit: %v", tt.name, err)
		}
		_, n, err := c.Sign(s, tt.data, 1)
		wantRV(t, tt.name+": Sign into a short buffer", err, p11.CKR_BUFFER_TOO_SMALL)
		sig, _, err := c.Sign(s, tt.data, int64(n)) // the operation is still alive
		if err != nil {
			t.Fatalf("%s: Sign: %v", tt.name, err)
		}
		if !tt.check(publicOf(t, c, s, tt.pub), sig) {
			t.Errorf("%s: the TPM's signature does not verify in Go", tt.name)
		}
		if err := c.VerifyInit(s, tt.mech, tt.pub); err != nil {
			t.Fatal(err)
		}
		if err := c.Verify(s, tt.data, sig); err != nil {
			t.Errorf("%s: C_Verify of the TPM's signature: %v", tt.name, err)
		}
	}

	// Multi-part signing.
	c.SignInit(s, p11.Mechanism{Type: p11.CKM_SHA256_RSA_PKCS}, rpriv)
	c.SignUpdate(s, msg[:7])
	c.SignUpdate(s, msg[7:])
	sig, _, err := c.SignFinal(s, 256)
	if err != nil || rsa.VerifyPKCS1v15(publicOf(t, c, s, rpub).(*rsa.PublicKey), crypto.SHA256, sum256[:], sig) != nil {
		t.Errorf("multi-part signature: %v", err)
	}

	// What must not work.
	v, err := c.AttributeValues(s, rpriv, []uint64{p11.CKA_PRIVATE_EXPONENT, p11.CKA_MODULUS})
	wantRV(t, "reading the private exponent", err, p11.CKR_ATTRIBUTE_SENSITIVE)
	if v[0].Status != p11.AttrSensitive || len(v[1].Value) != 256 {
		t.Errorf("private key attributes = %+v", v)
	}
	wantRV(t, "ECDSA on an RSA key", c.SignInit(s, p11.Mechanism{Type: p11.CKM_ECDSA}, rpriv), p11.CKR_KEY_TYPE_INCONSISTENT)
	wantRV(t, "signing with a public key", c.SignInit(s, p11.Mechanism{Type: p11.CKM_ECDSA}, epub), p11.CKR_KEY_HANDLE_INVALID)
	// CKM_RSA_PKCS signs a DigestInfo, and refuses anything else.
	c.SignInit(s, p11.Mechanism{Type: p11.CKM_RSA_PKCS}, rpriv)
	raw, _, err := c.Sign(s, append(bytes.Clone(digestInfoPrefixes[crypto.SHA256]), sum256[:]...), 256)
	if err != nil || rsa.VerifyPKCS1v15(publicOf(t, c, s, rpub).(*rsa.PublicKey), crypto.SHA256, sum256[:], raw) != nil {
		t.Errorf("CKM_RSA_PKCS of a SHA-256 DigestInfo: %v", err)
	}
	c.SignInit(s, p11.Mechanism{Type: p11.CKM_RSA_PKCS}, rpriv)
	_, _, err = c.Sign(s, []byte("not a DigestInfo"), 256)
	wantRV(t, "CKM_RSA_PKCS of raw data", err, p11.CKR_DATA_INVALID)
	badSalt := p11.PSSParams{Hash: p11.CKM_SHA256, MGF: p11.CKG_MGF1_SHA256, SaltLen: 20}.Encode()
	wantRV(t, "PSS with a salt the TPM cannot use", c.SignInit(s, p11.Mechanism{Type: p11.CKM_SHA256_RSA_PKCS_PSS, Param: badSalt}, rpriv), p11.CKR_MECHANISM_PARAM_INVALID)
	_, _, err = c.Sign(s, msg, 512)
	wantRV(t, "Sign without SignInit", err, p11.CKR_OPERATION_NOT_INITIALIZED)
	c.SignInit(s, p11.Mechanism{Type: p11.CKM_ECDSA}, epriv)
	wantRV(t, "second SignInit", c.SignInit(s, p11.Mechanism{Type: p11.CKM_ECDSA}, epriv), p11.CKR_OPERATION_ACTIVE)
	_, _, err = c.Sign(s, []byte("not a digest length"), 64)
	wantRV(t, "raw ECDSA on data of no digest's length", err, p11.CKR_DATA_LEN_RANGE)
	_, dpriv, err := c.GenerateKeyPair(s, rsaGen, []p11.Attribute{attr(p11.CKA_MODULUS_BITS, p11.Ulong(2048))}, []p11.Attribute{attr(p11.CKA_SIGN, p11.Bool(false))})
	if err != nil {
		t.Fatal(err)
	}
	wantRV(t, "signing with a decrypt-only key", c.SignInit(s, p11.Mechanism{Type: p11.CKM_SHA256_RSA_PKCS}, dpriv), p11.CKR_KEY_FUNCTION_NOT_PERMITTED)
	_, _, err = c.GenerateKeyPair(s, rsaGen, []p11.Attribute{attr(p11.CKA_MODULUS_BITS, p11.Ulong(1000))}, nil)
	wantRV(t, "an RSA size the TPM lacks", err, p11.CKR_KEY_SIZE_RANGE)
	_, _, err = c.GenerateKeyPair(s, rsaGen, nil, nil)
	wantRV(t, "RSA without CKA_MODULUS_BITS", err, p11.CKR_TEMPLATE_INCOMPLETE)
	_, _, err = c.GenerateKeyPair(s, p11.Mechanism{Type: p11.CKM_EC_KEY_PAIR_GEN}, []p11.Attribute{attr(p11.CKA_EC_PARAMS, []byte{6, 3, 1, 2, 3})}, nil)
	wantRV(t, "an unknown curve", err, p11.CKR_CURVE_NOT_SUPPORTED)
	_, _, err = c.GenerateKeyPair(s, rsaGen, rsaPub, []p11.Attribute{attr(p11.CKA_EXTRACTABLE, p11.Bool(true))})
	wantRV(t, "an extractable TPM key", err, p11.CKR_ATTRIBUTE_VALUE_INVALID)

	// Logged out, the private keys disappear.
	c.Logout(s)
	wantRV(t, "SignInit after logout", c.SignInit(s, p11.Mechanism{Type: p11.CKM_SHA256_RSA_PKCS}, rpriv), p11.CKR_KEY_HANDLE_INVALID)
}

// TestManyKeysManySignatures: 10,000 signatures spread over 20 keys, all
// through the PKCS#11 path, never meet the TPM's object-memory limit and
// leave no transient object behind but the cached ones.
func TestManyKeysManySignatures(t *testing.T) {
	f := newFixture(t, "sim")
	c := f.dial(t)
	s, _ := c.OpenSession(1, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	c.Login(s, p11.CKU_USER, []byte(userPIN))
	var keys []uint64
	for i := 0; i < 20; i++ {
		_, priv, err := c.GenerateKeyPair(s, p11.Mechanism{Type: p11.CKM_EC_KEY_PAIR_GEN}, []p11.Attribute{attr(p11.CKA_EC_PARAMS, oidP256)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, priv)
	}
	digest := sha256.Sum256([]byte("many"))
	for i := 0; i < 10000; i++ {
		if err := c.SignInit(s, p11.Mechanism{Type: p11.CKM_ECDSA}, keys[i%len(keys)]); err != nil {
			t.Fatalf("signature %d: SignInit: %v", i, err)
		}
		if _, _, err := c.Sign(s, digest[:], 64); err != nil {
			t.Fatalf("signature %d with key %d: %v", i, i%len(keys), err)
		}
	}
	n, err := f.tpm.LoadedTransients()
	if err != nil {
		t.Fatal(err)
	}
	if max := f.tpm.TransientSlots(); n > max {
		t.Errorf("%d transient objects loaded after the run, the TPM has %d slots", n, max)
	}
}

// TestLastLogoutUnloadsKeys: while a user is logged in, the TPM keeps the
// key just used loaded with an open session; after the last logout the
// key and its session are gone from the TPM. On the way, a length query
// leaves its data at home.
func TestLastLogoutUnloadsKeys(t *testing.T) {
	f := newFixture(t, "sim")
	c := f.dial(t)
	s, _ := c.OpenSession(1, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	c.Login(s, p11.CKU_USER, []byte(userPIN))
	_, priv, err := c.GenerateKeyPair(s, p11.Mechanism{Type: p11.CKM_EC_KEY_PAIR_GEN}, []p11.Attribute{attr(p11.CKA_EC_PARAMS, oidP256)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("then log out"))
	c.SignInit(s, p11.Mechanism{Type: p11.CKM_ECDSA}, priv)
	// The length query sends no data: an ECDSA signature has one length.
	before := f.rx.Load()
	if _, n, err := c.Sign(s, make([]byte, 1<<20), -1); err != nil || n != 64 {
		t.Fatalf("length query = %d, %v, want 64", n, err)
	}
	if sent := f.rx.Load() - before; sent > 4096 {
		t.Errorf("a length query sent %d bytes", sent)
	}
	if _, _, err := c.Sign(s, digest[:], 64); err != nil {
		t.Fatal(err)
	}
	loaded := func() (objects, sessions int) {
		objects, err1 := f.tpm.LoadedTransients()
		sessions, err2 := f.tpm.LoadedSessions()
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		return objects, sessions
	}
	if o, s := loaded(); o != 2 || s != 1 {
		t.Errorf("logged in: %d objects and %d sessions loaded, want 2 (storage key, signing key) and 1", o, s)
	}
	if err := c.Logout(s); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		o, s := loaded()
		if o == 1 && s == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the last logout: %d objects and %d sessions loaded, want 1 (storage key) and 0", o, s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
