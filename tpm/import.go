package tpm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha1" // for HMAC-SHA-1 keys longer than a block
	_ "crypto/sha512"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

// ImportKey wraps an existing key for this TPM (TPM2_Import, TPM 2.0 Part 3,
// 13.3) so that it is used like one from CreateKey, with auth (at most
// MaxAuth bytes), exempt from dictionary-attack protection (noDA). priv is an
// *rsa.PrivateKey (two primes), an *ecdsa.PrivateKey, or a []byte AES key
// (spec.Kind KindAES) or HMAC key (KindHMAC, with spec.Hash). spec gives
// the usage and the kind; its Bits and Curve, if set, must match the key.
// An HMAC key longer than the hash's block is replaced by its digest, as
// HMAC itself does (RFC 2104, 2), so that it fits the TPM.
//
// The key goes to the TPM as a duplicate with an outer wrapper only (Part 1,
// "Duplication"): encrypted and integrity-protected with a seed that only the storage
// primary key can recover. Parameter encryption could protect only the
// command's first parameter, not the duplicate, so a plain duplicate would
// put the private key on the bus in clear; an inner wrapper would add a
// second key for nothing the outer one does not already give.
//
// An imported key is not fixedTPM: PKCS#11 must not report it as never
// extractable. It has no policy, so TPM2_Duplicate cannot export it again.
func (t *TPM) ImportKey(spec KeySpec, priv any, auth []byte) (KeyBlob, error) {
	k, err := t.importKey(spec, priv, auth)
	if err != nil {
		return KeyBlob{}, fmt.Errorf("importing %v key: %w", spec.Kind, err)
	}
	return k, nil
}

func (t *TPM) importKey(spec KeySpec, priv any, auth []byte) (KeyBlob, error) {
	if len(auth) > MaxAuth {
		return KeyBlob{}, fmt.Errorf("auth of %d bytes too long", len(auth))
	}
	seed := make([]byte, 32) // the obfuscation value, a SHA-256 digest long
	if _, err := rand.Read(seed); err != nil {
		return KeyBlob{}, err
	}
	pub, sens, err := importAreas(spec, priv)
	if err != nil {
		return KeyBlob{}, err
	}
	sens.AuthValue = tpm2.TPM2BAuth{Buffer: auth}
	sens.SeedValue = tpm2.TPM2BDigest{Buffer: seed}
	if err := setSymUnique(&pub, sens); err != nil {
		return KeyBlob{}, err
	}
	name, err := tpm2.ObjectName(&pub)
	if err != nil {
		return KeyBlob{}, err
	}
	var out tpm2.TPM2BPrivate
	err = t.do(func(l locked) error {
		wrapKey, err := tpm2.ImportEncapsulationKey(&l.t.srkPub)
		if err != nil {
			return err
		}
		dup, seed, err := tpm2.CreateDuplicate(rand.Reader, wrapKey, name.Buffer, tpm2.Marshal(sens))
		if err != nil {
			return fmt.Errorf("wrapping key: %w", err)
		}
		srk := l.t.srk
		rsp, err := tpm2.Import{
			ParentHandle: tpm2.AuthHandle{Handle: srk.Handle, Name: srk.Name, Auth: tpm2.PasswordAuth(nil)},
			ObjectPublic: tpm2.New2B(pub),
			Duplicate:    tpm2.TPM2BPrivate{Buffer: dup},
			InSymSeed:    tpm2.TPM2BEncryptedSecret{Buffer: seed},
			Symmetric:    tpm2.TPMTSymDef{Algorithm: tpm2.TPMAlgNull},
		}.Execute(l)
		if err != nil {
			return err
		}
		out = rsp.OutPrivate
		return nil
	})
	if err != nil {
		return KeyBlob{}, err
	}
	return KeyBlob{Public: tpm2.Marshal(tpm2.New2B(pub)), Private: tpm2.Marshal(out)}, nil
}

// importAreas returns the public area and the sensitive area (without
// auth and seed) of priv.
func importAreas(spec KeySpec, priv any) (tpm2.TPMTPublic, tpm2.TPMTSensitive, error) {
	switch k := priv.(type) {
	case *rsa.PrivateKey:
		return rsaAreas(spec, k)
	case *ecdsa.PrivateKey:
		return eccAreas(spec, k)
	case []byte:
		return symAreas(spec, k)
	}
	return tpm2.TPMTPublic{}, tpm2.TPMTSensitive{}, fmt.Errorf("%w: private key of type %T", ErrUnsupported, priv)
}

func rsaAreas(spec KeySpec, k *rsa.PrivateKey) (tpm2.TPMTPublic, tpm2.TPMTSensitive, error) {
	bits := k.N.BitLen()
	if spec.Kind != KindRSA || spec.Bits != 0 && spec.Bits != bits {
		return tpm2.TPMTPublic{}, tpm2.TPMTSensitive{}, fmt.Errorf("an RSA-%d key does not match the spec", bits)
	}
	if len(k.Primes) != 2 || k.E < 3 || k.E > 1<<31-1 {
		return tpm2.TPMTPublic{}, tpm2.TPMTSensitive{}, fmt.Errorf("%w: RSA key with %d primes and exponent %d", ErrUnsupported, len(k.Primes), k.E)
	}
	spec.Bits = bits
	pub, err := keyTemplate(spec, false)
	if err != nil {
		return tpm2.TPMTPublic{}, tpm2.TPMTSensitive{}, err
	}
	parms, _ := pub.Parameters.RSADetail()
	if k.E != 65537 { // 0 stands for 65537 (Part 2, 12.2.3.5)
		parms.Exponent = uint32(k.E)
	}
	pub.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: k.N.Bytes()})
	return pub, tpm2.TPMTSensitive{
		SensitiveType: tpm2.TPMAlgRSA,
		Sensitive:     tpm2.NewTPMUSensitiveComposite(tpm2.TPMAlgRSA, &tpm2.TPM2BPrivateKeyRSA{Buffer: k.Primes[0].Bytes()}),
	}, nil
}

func eccAreas(spec KeySpec, k *ecdsa.PrivateKey) (tpm2.TPMTPublic, tpm2.TPMTSensitive, error) {
	if spec.Kind != KindECC || spec.Curve != nil && spec.Curve != k.Curve {
		return tpm2.TPMTPublic{}, tpm2.TPMTSensitive{}, errors.New("an ECC key does not match the spec")
	}
	spec.Curve = k.Curve
	pub, err := keyTemplate(spec, false)
	if err != nil {
		return tpm2.TPMTPublic{}, tpm2.TPMTSensitive{}, err
	}
	d, err := k.Bytes()
	if err != nil {
		return tpm2.TPMTPublic{}, tpm2.TPMTSensitive{}, err
	}
	pt, err := k.PublicKey.Bytes()
	if err != nil {
		return tpm2.TPMTPublic{}, tpm2.TPMTSensitive{}, err
	}
	size := (len(pt) - 1) / 2 // uncompressed point: 4 || X || Y
	pub.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
		X: tpm2.TPM2BECCParameter{Buffer: pt[1 : 1+size]},
		Y: tpm2.TPM2BECCParameter{Buffer: pt[1+size:]},
	})
	return pub, tpm2.TPMTSensitive{
		SensitiveType: tpm2.TPMAlgECC,
		Sensitive:     tpm2.NewTPMUSensitiveComposite(tpm2.TPMAlgECC, &tpm2.TPM2BECCParameter{Buffer: d}),
	}, nil
}

func symAreas(spec KeySpec, key []byte) (tpm2.TPMTPublic, tpm2.TPMTSensitive, error) {
	switch spec.Kind {
	case KindAES:
		if spec.Bits != 0 && spec.Bits != 8*len(key) {
			return tpm2.TPMTPublic{}, tpm2.TPMTSensitive{}, fmt.Errorf("an AES key of %d bytes does not match the spec", len(key))
		}
		spec.Bits = 8 * len(key)
		pub, err := keyTemplate(spec, false)
		return pub, tpm2.TPMTSensitive{
			SensitiveType: tpm2.TPMAlgSymCipher,
			Sensitive:     tpm2.NewTPMUSensitiveComposite(tpm2.TPMAlgSymCipher, &tpm2.TPM2BSymKey{Buffer: key}),
		}, err
	case KindHMAC:
		pub, err := keyTemplate(spec, false)
		if err != nil {
			return tpm2.TPMTPublic{}, tpm2.TPMTSensitive{}, err
		}
		if len(key) > blockSize(spec.Hash) {
			h := spec.Hash.New()
			h.Write(key)
			key = h.Sum(nil)
		}
		return pub, tpm2.TPMTSensitive{
			SensitiveType: tpm2.TPMAlgKeyedHash,
			Sensitive:     tpm2.NewTPMUSensitiveComposite(tpm2.TPMAlgKeyedHash, &tpm2.TPM2BSensitiveData{Buffer: key}),
		}, nil
	}
	return tpm2.TPMTPublic{}, tpm2.TPMTSensitive{}, fmt.Errorf("a []byte key for a %v spec", spec.Kind)
}

// blockSize returns the block size of h, one of those hashAlg knows.
func blockSize(h crypto.Hash) int {
	if h == crypto.SHA384 || h == crypto.SHA512 {
		return 128
	}
	return 64
}

// setSymUnique sets the unique field of an AES or HMAC key: the name
// algorithm's digest of the seed value and the key (Part 2, 12.2.3.2), which
// binds the public area to the secret without revealing it.
func setSymUnique(pub *tpm2.TPMTPublic, sens tpm2.TPMTSensitive) error {
	var key []byte
	switch pub.Type {
	case tpm2.TPMAlgSymCipher:
		k, err := sens.Sensitive.Sym()
		if err != nil {
			return err
		}
		key = k.Buffer
	case tpm2.TPMAlgKeyedHash:
		k, err := sens.Sensitive.Bits()
		if err != nil {
			return err
		}
		key = k.Buffer
	default:
		return nil
	}
	h := crypto.SHA256.New() // the name algorithm of keyTemplate
	h.Write(sens.SeedValue.Buffer)
	h.Write(key)
	digest := &tpm2.TPM2BDigest{Buffer: h.Sum(nil)}
	pub.Unique = tpm2.NewTPMUPublicID(pub.Type, digest)
	return nil
}
