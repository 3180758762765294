package server

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"math/big"
	"testing"

	"tep.dev/tep/p11"
)

func rsaPublicTemplate(k *rsa.PublicKey) []p11.Attribute {
	return []p11.Attribute{
		attr(p11.CKA_CLASS, p11.Ulong(p11.CKO_PUBLIC_KEY)), attr(p11.CKA_KEY_TYPE, p11.Ulong(p11.CKK_RSA)),
		attr(p11.CKA_MODULUS, k.N.Bytes()), attr(p11.CKA_PUBLIC_EXPONENT, big.NewInt(int64(k.E)).Bytes()),
	}
}

func ecPublicTemplate(t *testing.T, k *ecdsa.PublicKey) []p11.Attribute {
	point, err := k.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	der, _ := asn1.Marshal(point)
	return []p11.Attribute{
		attr(p11.CKA_CLASS, p11.Ulong(p11.CKO_PUBLIC_KEY)), attr(p11.CKA_KEY_TYPE, p11.Ulong(p11.CKK_EC)),
		attr(p11.CKA_EC_PARAMS, mustOID(asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7})), attr(p11.CKA_EC_POINT, der),
	}
}

// TestVerifyInSoftware: signatures made by Go's crypto verify against
// public key objects; bad ones do not, with the right return values.
func TestVerifyInSoftware(t *testing.T) {
	f := newFixture(t, "sim")
	c := f.dial(t)
	s, _ := c.OpenSession(1, p11.CKF_SERIAL_SESSION)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rh, err := c.CreateObject(s, rsaPublicTemplate(&rk.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := c.AttributeValues(s, rh, []uint64{p11.CKA_MODULUS_BITS}); len(v) != 1 || string(v[0].Value) != string(p11.Ulong(2048)) {
		t.Errorf("CKA_MODULUS_BITS = %x, want 2048", v)
	}
	eh, err := c.CreateObject(s, ecPublicTemplate(t, &ek.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("a message to sign")
	sum := sha256.Sum256(msg)
	pkcs1, _ := rsa.SignPKCS1v15(rand.Reader, rk, crypto.SHA256, sum[:])
	pss, _ := rsa.SignPSS(rand.Reader, rk, crypto.SHA256, sum[:], &rsa.PSSOptions{SaltLength: 32})
	r, ss, _ := ecdsa.Sign(rand.Reader, ek, sum[:])
	ecsig := append(r.FillBytes(make([]byte, 32)), ss.FillBytes(make([]byte, 32))...)
	pssParam := p11.PSSParams{Hash: p11.CKM_SHA256, MGF: p11.CKG_MGF1_SHA256, SaltLen: 32}.Encode()

	for _, tt := range []struct {
		name      string
		mech      p11.Mechanism
		key       uint64
		data, sig []byte
		want      p11.RV
		multiPart bool
	}{
		{"SHA256_RSA_PKCS", p11.Mechanism{Type: p11.CKM_SHA256_RSA_PKCS}, rh, msg, pkcs1, p11.CKR_OK, false},
		{"SHA256_RSA_PKCS multi-part", p11.Mechanism{Type: p11.CKM_SHA256_RSA_PKCS}, rh, msg, pkcs1, p11.CKR_OK, true},
		{"SHA256_RSA_PKCS_PSS", p11.Mechanism{Type: p11.CKM_SHA256_RSA_PKCS_PSS, Param: pssParam}, rh, msg, pss, p11.CKR_OK, false},
		{"RSA_PKCS_PSS on a digest", p11.Mechanism{Type: p11.CKM_RSA_PKCS_PSS, Param: pssParam}, rh, sum[:], pss, p11.CKR_OK, false},
		{"ECDSA on a digest", p11.Mechanism{Type: p11.CKM_ECDSA}, eh, sum[:], ecsig, p11.CKR_OK, false},
		{"ECDSA_SHA256", p11.Mechanism{Type: p11.CKM_ECDSA_SHA256}, eh, msg, ecsig, p11.CKR_OK, false},
		{"tampered message", p11.Mechanism{Type: p11.CKM_SHA256_RSA_PKCS}, rh, []byte("another message"), pkcs1, p11.CKR_SIGNATURE_INVALID, false},
		{"tampered ECDSA", p11.Mechanism{Type: p11.CKM_ECDSA_SHA256}, eh, []byte("x"), ecsig, p11.CKR_SIGNATURE_INVALID, false},
		{"short signature", p11.Mechanism{Type: p11.CKM_SHA256_RSA_PKCS}, rh, msg, pkcs1[:100], p11.CKR_SIGNATURE_LEN_RANGE, false},
		{"PKCS#1 signature as PSS", p11.Mechanism{Type: p11.CKM_SHA256_RSA_PKCS_PSS, Param: pssParam}, rh, msg, pkcs1, p11.CKR_SIGNATURE_INVALID, false},
	} {
		if err := c.VerifyInit(s, tt.mech, tt.key); err != nil {
			t.Fatalf("%s: VerifyInit: %v", tt.name, err)
		}
		if tt.multiPart {
			c.VerifyUpdate(s, tt.data[:3])
			c.VerifyUpdate(s, tt.data[3:])
			err = c.VerifyFinal(s, tt.sig)
		} else {
			err = c.Verify(s, tt.data, tt.sig)
		}
		wantRV(t, tt.name, err, tt.want)
	}

	wantRV(t, "ECDSA mechanism on an RSA key", c.VerifyInit(s, p11.Mechanism{Type: p11.CKM_ECDSA}, rh), p11.CKR_KEY_TYPE_INCONSISTENT)
	wantRV(t, "unknown mechanism", c.VerifyInit(s, p11.Mechanism{Type: 0x8888}, rh), p11.CKR_MECHANISM_INVALID)
	wantRV(t, "a data object as the key", c.VerifyInit(s, p11.Mechanism{Type: p11.CKM_ECDSA}, 999), p11.CKR_KEY_HANDLE_INVALID)
	wantRV(t, "PSS without parameters", c.VerifyInit(s, p11.Mechanism{Type: p11.CKM_SHA256_RSA_PKCS_PSS}, rh), p11.CKR_MECHANISM_PARAM_INVALID)
	wantRV(t, "Verify not initialised", c.Verify(s, msg, pkcs1), p11.CKR_OPERATION_NOT_INITIALIZED)
	c.VerifyInit(s, p11.Mechanism{Type: p11.CKM_SHA256_RSA_PKCS}, rh)
	wantRV(t, "second VerifyInit", c.VerifyInit(s, p11.Mechanism{Type: p11.CKM_SHA256_RSA_PKCS}, rh), p11.CKR_OPERATION_ACTIVE)
	c.Verify(s, msg, pkcs1)

	noVerify := append(rsaPublicTemplate(&rk.PublicKey), attr(p11.CKA_VERIFY, p11.Bool(false)))
	nh, err := c.CreateObject(s, noVerify)
	if err != nil {
		t.Fatal(err)
	}
	wantRV(t, "a key without CKA_VERIFY", c.VerifyInit(s, p11.Mechanism{Type: p11.CKM_SHA256_RSA_PKCS}, nh), p11.CKR_KEY_FUNCTION_NOT_PERMITTED)
	bad := rsaPublicTemplate(&rk.PublicKey)
	bad[2] = attr(p11.CKA_MODULUS, []byte{0x10, 0})
	_, err = c.CreateObject(s, bad)
	wantRV(t, "a modulus too small to be one", err, p11.CKR_ATTRIBUTE_VALUE_INVALID)
	_, err = c.CreateObject(s, rsaPublicTemplate(&rk.PublicKey)[:3])
	wantRV(t, "RSA public key without exponent", err, p11.CKR_TEMPLATE_INCOMPLETE)
}
