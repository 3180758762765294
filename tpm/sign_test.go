package tpm

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"math/big"
	"slices"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

// keyAuth is the auth value of the tests' keys: a digest with zero bytes
// in it, which go-tpm v0.9.8 would cut short without session.go's binding.
var keyAuth = []byte{0x11, 0, 0x22, 0, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee,
	0xff, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0}

func digestOf(h crypto.Hash, msg string) []byte {
	d := h.New()
	d.Write([]byte(msg))
	return d.Sum(nil)
}

func caps(t testing.TB, tp *TPM) Caps {
	t.Helper()
	c, err := tp.Algorithms()
	if err != nil {
		t.Fatalf("Algorithms() = %v", err)
	}
	return c
}

func createKey(t testing.TB, tp *TPM, spec KeySpec) (KeyBlob, crypto.PublicKey) {
	t.Helper()
	k, pub, err := tp.CreateKey(spec, keyAuth)
	if err != nil {
		t.Fatalf("CreateKey(%+v) = %v", spec, err)
	}
	return k, pub
}

func importKey(t testing.TB, tp *TPM, spec KeySpec, priv any) KeyBlob {
	t.Helper()
	k, err := tp.ImportKey(spec, priv, keyAuth)
	if err != nil {
		t.Fatalf("ImportKey(%v) = %v", spec.Kind, err)
	}
	return k
}

// rsaKeys returns a created RSA-2048 key and imported keys of the sizes
// the TPM has among 2048 and 3072, with their public keys and, for the
// imported ones, their Go originals.
func rsaKeys(t *testing.T, tp *TPM, spec KeySpec) (names []string, blobs []KeyBlob, pubs []*rsa.PublicKey, origs []*rsa.PrivateKey) {
	spec.Kind, spec.Bits = KindRSA, 2048
	k, pub := createKey(t, tp, spec)
	names, blobs, pubs, origs = append(names, "created 2048"), append(blobs, k), append(pubs, pub.(*rsa.PublicKey)), append(origs, nil)
	for _, bits := range []int{2048, 3072} {
		if !slices.Contains(caps(t, tp).RSABits, bits) {
			continue
		}
		priv, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			t.Fatal(err)
		}
		spec.Bits = 0
		k := importKey(t, tp, spec, priv)
		names, blobs, pubs, origs = append(names, "imported "+big.NewInt(int64(bits)).String()), append(blobs, k), append(pubs, &priv.PublicKey), append(origs, priv)
	}
	return names, blobs, pubs, origs
}

func TestSignRSA(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *TPM, _ target) {
		names, blobs, pubs, origs := rsaKeys(t, tp, KeySpec{Sign: true})
		for i, k := range blobs {
			if got, err := k.PublicKey(); err != nil || !pubs[i].Equal(got) {
				t.Errorf("%s: PublicKey() = %v, want the key's", names[i], err)
			}
			for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
				d := digestOf(h, "message")
				sig, err := tp.Sign(k, keyAuth, d, h)
				if err != nil {
					t.Fatalf("%s: Sign(PKCS#1 v1.5, %v) = %v", names[i], h, err)
				}
				if err := rsa.VerifyPKCS1v15(pubs[i], h, d, sig); err != nil {
					t.Errorf("%s: PKCS#1 v1.5 %v signature does not verify: %v", names[i], h, err)
				}
				if origs[i] != nil {
					want, _ := rsa.SignPKCS1v15(nil, origs[i], h, d)
					if !bytes.Equal(sig, want) {
						t.Errorf("%s: PKCS#1 v1.5 %v signature differs from the Go original's", names[i], h)
					}
				}
				sig, err = tp.Sign(k, keyAuth, d, &rsa.PSSOptions{Hash: h, SaltLength: rsa.PSSSaltLengthEqualsHash})
				if err != nil {
					t.Fatalf("%s: Sign(PSS, %v) = %v", names[i], h, err)
				}
				if err := rsa.VerifyPSS(pubs[i], h, d, sig, &rsa.PSSOptions{SaltLength: h.Size()}); err != nil {
					t.Errorf("%s: PSS %v signature does not verify with a %d-byte salt: %v", names[i], h, h.Size(), err)
				}
			}
		}
	})
}

func TestSignECDSA(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *TPM, _ target) {
		for _, c := range []elliptic.Curve{elliptic.P256(), elliptic.P384()} {
			spec := KeySpec{Kind: KindECC, Curve: c, Sign: true}
			k, pub := createKey(t, tp, spec)
			orig, err := ecdsa.GenerateKey(c, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			spec.Curve = nil
			imp := importKey(t, tp, spec, orig)
			if got, err := imp.PublicKey(); err != nil || !orig.PublicKey.Equal(got) {
				t.Errorf("imported %s: PublicKey() = %v, want the original's", c.Params().Name, err)
			}
			for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384} {
				d := digestOf(h, "message")
				verifyECDSA(t, tp, k, pub.(*ecdsa.PublicKey), d, h)
				verifyECDSA(t, tp, imp, &orig.PublicKey, d, h)
			}
		}
	})
}

func verifyECDSA(t *testing.T, tp *TPM, k KeyBlob, pub *ecdsa.PublicKey, d []byte, h crypto.Hash) {
	t.Helper()
	name := pub.Curve.Params().Name
	sig, err := tp.Sign(k, keyAuth, d, h)
	if err != nil {
		t.Fatalf("%s: Sign(ECDSA, %v) = %v", name, h, err)
	}
	n := (pub.Curve.Params().N.BitLen() + 7) / 8
	if len(sig) != 2*n {
		t.Fatalf("%s: Sign(ECDSA, %v) = %d bytes, want %d", name, h, len(sig), 2*n)
	}
	r, s := new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])
	if !ecdsa.Verify(pub, d, r, s) {
		t.Errorf("%s: ECDSA %v signature r||s does not verify", name, h)
	}
}

func TestSignErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *TPM, _ target) {
		relaxDA(t, tp)
		ec, _ := createKey(t, tp, KeySpec{Kind: KindECC, Curve: elliptic.P256(), Sign: true})
		decOnly, _ := createKey(t, tp, KeySpec{Kind: KindECC, Curve: elliptic.P256(), Decrypt: true})
		d := digestOf(crypto.SHA256, "m")
		tests := []struct {
			name string
			k    KeyBlob
			auth []byte
			d    []byte
			opts crypto.SignerOpts
			is   []error
		}{
			{"wrong auth", ec, []byte("wrong"), d, crypto.SHA256, []error{ErrAuthFail, tpm2.TPMRCBadAuth}}, // noDA: not counted
			{"auth one byte short", ec, keyAuth[:30], d, crypto.SHA256, []error{ErrAuthFail}},
			{"decrypt-only key", decOnly, keyAuth, d, crypto.SHA256, []error{ErrUsage}},
			{"short digest", ec, keyAuth, d[:31], crypto.SHA256, nil},
			{"no hash", ec, keyAuth, d, crypto.Hash(0), []error{ErrUnsupported}},
			{"tampered private", tamper(ec, false), keyAuth, d, crypto.SHA256, nil},
			{"tampered public", tamper(ec, true), keyAuth, d, crypto.SHA256, nil},
			{"empty blob", KeyBlob{}, keyAuth, d, crypto.SHA256, nil},
			{"auth too long", ec, make([]byte, MaxAuth+1), d, crypto.SHA256, nil},
		}
		for _, tc := range tests {
			_, err := tp.Sign(tc.k, tc.auth, tc.d, tc.opts)
			if err == nil {
				t.Errorf("%s: Sign() succeeded, want error", tc.name)
			}
			for _, want := range tc.is {
				if !errors.Is(err, want) {
					t.Errorf("%s: Sign() = %v, want %v", tc.name, err, want)
				}
			}
		}
		if _, err := tp.Sign(ec, keyAuth, d, crypto.SHA256); err != nil {
			t.Errorf("Sign() after the failures = %v", err)
		}
		assertTPMRefusesSign(t, tp, decOnly)
	})
}

// tamper flips a bit near the end of the public or private blob.
func tamper(k KeyBlob, public bool) KeyBlob {
	k = KeyBlob{Public: bytes.Clone(k.Public), Private: bytes.Clone(k.Private)}
	b := k.Private
	if public {
		b = k.Public
	}
	b[len(b)-3] ^= 0x40
	return k
}

// assertTPMRefusesSign checks that the TPM, not only the package, refuses
// to sign with a key without the sign attribute.
func assertTPMRefusesSign(t *testing.T, tp *TPM, k KeyBlob) {
	t.Helper()
	pk, err := tp.parseKey(k)
	if err != nil {
		t.Fatal(err)
	}
	err = tp.useKey(pk, keyAuth, encNone, func(l locked, key tpm2.AuthHandle) error {
		_, err := tpm2.Sign{
			KeyHandle:  key,
			Digest:     tpm2.TPM2BDigest{Buffer: make([]byte, 32)},
			InScheme:   tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgECDSA, Details: tpm2.NewTPMUSigScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSchemeHash{HashAlg: tpm2.TPMAlgSHA256})},
			Validation: tpm2.TPMTTKHashCheck{Tag: tpm2.TPMSTHashCheck, Hierarchy: tpm2.TPMRHNull},
		}.Execute(l)
		return err
	})
	if !errors.Is(err, tpm2.TPMRCKey) && !errors.Is(err, tpm2.TPMRCAttributes) {
		t.Errorf("TPM2_Sign with a decrypt-only key = %v, want TPM_RC_KEY or TPM_RC_ATTRIBUTES", err)
	}
}

func TestKeyAuths(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *TPM, _ target) {
		relaxDA(t, tp)
		d := digestOf(crypto.SHA256, "m")
		for _, a := range auths {
			k, _, err := tp.CreateKey(KeySpec{Kind: KindECC, Curve: elliptic.P256(), Sign: true}, a.auth)
			if err != nil {
				t.Fatalf("%s: CreateKey() = %v", a.name, err)
			}
			if _, err := tp.Sign(k, a.auth, d, crypto.SHA256); err != nil {
				t.Errorf("%s: Sign(right auth) = %v", a.name, err)
			}
			wrong := []byte{1}
			if len(a.auth) > 0 {
				wrong = bytes.Clone(a.auth)
				wrong[0] ^= 1
			}
			if _, err := tp.Sign(k, wrong, d, crypto.SHA256); !errors.Is(err, ErrAuthFail) {
				t.Errorf("%s: Sign(wrong auth) = %v, want ErrAuthFail", a.name, err)
			}
		}
	})
}

// TestParseSignature: the hand-written TPMT_SIGNATURE reader agrees with
// go-tpm's on the signatures a TPM returns and refuses anything else.
func TestParseSignature(t *testing.T) {
	for _, sig := range []tpm2.TPMTSignature{
		{SigAlg: tpm2.TPMAlgECDSA, Signature: tpm2.NewTPMUSignature(tpm2.TPMAlgECDSA, &tpm2.TPMSSignatureECC{Hash: tpm2.TPMAlgSHA256, SignatureR: tpm2.TPM2BECCParameter{Buffer: []byte{1, 2, 3}}, SignatureS: tpm2.TPM2BECCParameter{Buffer: []byte{4, 5}}})},
		{SigAlg: tpm2.TPMAlgRSASSA, Signature: tpm2.NewTPMUSignature(tpm2.TPMAlgRSASSA, &tpm2.TPMSSignatureRSA{Hash: tpm2.TPMAlgSHA384, Sig: tpm2.TPM2BPublicKeyRSA{Buffer: bytes.Repeat([]byte{7}, 256)}})},
		{SigAlg: tpm2.TPMAlgRSAPSS, Signature: tpm2.NewTPMUSignature(tpm2.TPMAlgRSAPSS, &tpm2.TPMSSignatureRSA{Hash: tpm2.TPMAlgSHA256, Sig: tpm2.TPM2BPublicKeyRSA{Buffer: []byte{9}}})},
	} {
		b := tpm2.Marshal(sig)
		got, err := parseSignature(b)
		if err != nil || !bytes.Equal(tpm2.Marshal(*got), b) {
			t.Errorf("parseSignature(%x) = %v, %v", b, got, err)
		}
		for _, bad := range [][]byte{b[:len(b)-1], append(bytes.Clone(b), 0), b[:3]} {
			if _, err := parseSignature(bad); err == nil {
				t.Errorf("parseSignature(%x) accepted", bad)
			}
		}
	}
	if _, err := parseSignature([]byte{0x00, 0x15, 0x00, 0x0b, 0, 0}); err == nil { // RSAES (0x0015) is no signature
		t.Error("parseSignature accepted a scheme that is no signature")
	}
}
