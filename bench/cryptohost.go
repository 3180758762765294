package bench

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/miekg/pkcs11"
)

// The workloads Crypto times. An operation is the Init call and the one
// call (or the Update and Final calls) it prepares, as an application
// makes them; output buffers are sized beforehand (see direct), but for
// WorkDigestQuery, which first asks for the length with a NULL buffer as
// miekg/pkcs11's Digest and Sign do (PKCS#11 v2.40, 5.2): two calls, each
// handed the data.
const (
	WorkRSASign     = "W2 RSA-2048 SHA256_RSA_PKCS sign 64 B"
	WorkRSAVerify   = "W2 RSA-2048 SHA256_RSA_PKCS verify 64 B"
	WorkECDSASign   = "W3 P-256 ECDSA sign 32 B"
	WorkECDSAVerify = "W3 P-256 ECDSA verify 32 B"
	WorkAES         = "W4 AES-256-CBC encrypt 1 MiB"
	WorkAESParts    = "W4 AES-256-CBC encrypt 1 MiB, 64 KiB parts"
	WorkDigest      = "W5 SHA-256 digest 1 MiB"
	WorkDigestQuery = "W5 SHA-256 digest 1 MiB, length query first"
	WorkRSAKeygen   = "W6 RSA-2048 key pair generation"
)

const (
	aesBulk = 1 << 20
	aesPart = 64 << 10
)

// cryptoKeys are the session keys and the inputs of the crypto
// workloads, made once per host before the first of them. A key that
// could not be made (with its signature, for the signing keys) has its
// error instead, and only the workloads that need it fail.
type cryptoKeys struct {
	rsaPriv, rsaPub, ecPriv, ecPub, aes pkcs11.ObjectHandle
	rsaErr, ecErr, aesErr               error
	msg, digest, rsaSig, ecSig          []byte
	bulk, out, iv                       []byte
}

// missing says why workload w cannot run: the key it needs.
func (k *cryptoKeys) missing(w string) error {
	switch w {
	case WorkRSASign, WorkRSAVerify:
		return k.rsaErr
	case WorkECDSASign, WorkECDSAVerify:
		return k.ecErr
	case WorkAES, WorkAESParts:
		return k.aesErr
	}
	return nil
}

var (
	p256OID    = []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}
	rsaPubExp  = []byte{1, 0, 1}
	rsaKeyMech = []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, nil)}
)

func rsaTemplates() (pub, priv []*pkcs11.Attribute) {
	return []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
			pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS_BITS, 2048),
			pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, rsaPubExp),
		}, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
			pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		}
}

// setUpCrypto generates the keys in the token and one signature of each
// kind to verify. It does nothing the second time.
func (s *system) setUpCrypto() error {
	if s.keys != nil {
		return nil
	}
	d, err := newDirect(s.ctx, s.module)
	if err != nil {
		return err
	}
	k := &cryptoKeys{
		msg:  bytes.Repeat([]byte("m"), 64),
		bulk: bytes.Repeat([]byte{0x5a}, aesBulk),
		out:  make([]byte, aesBulk),
		iv:   make([]byte, 16),
	}
	k.digest = k.msg[:32]
	s.d, s.keys = d, k
	k.rsaErr = s.makeRSA()
	k.ecErr = s.makeEC()
	k.aesErr = s.makeAES()
	return nil
}

// aesLabel labels the AES key that the set-up of a module that cannot
// generate one has made: tpm2-pkcs11 has no C_GenerateKey, but its
// tpm2_ptool makes keys.
const aesLabel = "bench-aes"

// generateKeyPair makes a key pair of session objects or, once a module
// has refused those with CKR_ATTRIBUTE_VALUE_INVALID, of token objects:
// tpm2-pkcs11 keeps every object in its store. A run's store is removed
// with the run's directory.
func (s *system) generateKeyPair(mech []*pkcs11.Mechanism, pub, priv []*pkcs11.Attribute) (pubH, privH pkcs11.ObjectHandle, err error) {
	if !s.tokenKeys {
		pubH, privH, err = s.ctx.GenerateKeyPair(s.sh, mech, pub, priv)
		if !errors.Is(err, pkcs11.Error(pkcs11.CKR_ATTRIBUTE_VALUE_INVALID)) {
			return pubH, privH, err
		}
		s.tokenKeys = true
	}
	return s.ctx.GenerateKeyPair(s.sh, mech, onToken(pub), onToken(priv))
}

// onToken returns a copy of template with CKA_TOKEN true.
func onToken(template []*pkcs11.Attribute) []*pkcs11.Attribute {
	out := make([]*pkcs11.Attribute, 0, len(template))
	for _, a := range template {
		if a.Type == pkcs11.CKA_TOKEN {
			a = pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true)
		}
		out = append(out, a)
	}
	return out
}

func (s *system) makeRSA() error {
	k := s.keys
	pub, priv := rsaTemplates()
	var err error
	if k.rsaPub, k.rsaPriv, err = s.generateKeyPair(rsaKeyMech, pub, priv); err != nil {
		return fmt.Errorf("no RSA-2048 key: C_GenerateKeyPair: %w", err)
	}
	if k.rsaSig, err = s.signOnce(pkcs11.CKM_SHA256_RSA_PKCS, k.rsaPriv, k.msg, 256); err != nil {
		return fmt.Errorf("no RSA-2048 signature to verify: %w", err)
	}
	return nil
}

func (s *system) makeEC() error {
	k := s.keys
	var err error
	k.ecPub, k.ecPriv, err = s.generateKeyPair(
		[]*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_EC_KEY_PAIR_GEN, nil)},
		[]*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
			pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
			pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, p256OID),
		}, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
			pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		})
	if err != nil {
		return fmt.Errorf("no P-256 key: C_GenerateKeyPair: %w", err)
	}
	if k.ecSig, err = s.signOnce(pkcs11.CKM_ECDSA, k.ecPriv, k.digest, 64); err != nil {
		return fmt.Errorf("no P-256 signature to verify: %w", err)
	}
	return nil
}

// makeAES generates the AES key or, failing that, finds the one labelled
// aesLabel.
func (s *system) makeAES() error {
	h, err := s.ctx.GenerateKey(s.sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)},
		[]*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
			pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		})
	if err != nil {
		var ferr error
		if h, ferr = s.findKey(pkcs11.CKO_SECRET_KEY, aesLabel); ferr != nil {
			return fmt.Errorf("no AES-256 key: C_GenerateKey: %w; %v", err, ferr)
		}
	}
	s.keys.aes = h
	return nil
}

// findKey returns the first object of class labelled label.
func (s *system) findKey(class uint, label string) (pkcs11.ObjectHandle, error) {
	err := s.ctx.FindObjectsInit(s.sh, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, class),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
	})
	if err != nil {
		return 0, fmt.Errorf("C_FindObjectsInit: %w", err)
	}
	hs, _, err := s.ctx.FindObjects(s.sh, 1)
	if ferr := s.ctx.FindObjectsFinal(s.sh); err == nil && ferr != nil {
		err = fmt.Errorf("C_FindObjectsFinal: %w", ferr)
	}
	switch {
	case err != nil:
		return 0, err
	case len(hs) == 0:
		return 0, fmt.Errorf("no key labelled %q", label)
	}
	return hs[0], nil
}

// signOnce signs in into a buffer of size bytes.
func (s *system) signOnce(mech uint, key pkcs11.ObjectHandle, in []byte, size int) ([]byte, error) {
	if err := s.ctx.SignInit(s.sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}, key); err != nil {
		return nil, fmt.Errorf("C_SignInit: %w", err)
	}
	sig := make([]byte, size)
	n, err := s.d.sign(s.sh, in, sig)
	if err == nil && n != size {
		err = fmt.Errorf("C_Sign gave %d bytes, want %d", n, size)
	}
	return sig[:n], err
}

func (s *system) verifyOnce(mech uint, key pkcs11.ObjectHandle, in, sig []byte) error {
	if err := s.ctx.VerifyInit(s.sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}, key); err != nil {
		return fmt.Errorf("C_VerifyInit: %w", err)
	}
	if err := s.ctx.Verify(s.sh, in, sig); err != nil {
		return fmt.Errorf("C_Verify: %w", err)
	}
	return nil
}

func (s *system) encryptInit() error {
	m := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_CBC, s.keys.iv)}
	if err := s.ctx.EncryptInit(s.sh, m, s.keys.aes); err != nil {
		return fmt.Errorf("C_EncryptInit: %w", err)
	}
	return nil
}

// wantLen checks the length an output call reported.
func wantLen(what string, n, want int, err error) error {
	if err == nil && n != want {
		err = fmt.Errorf("%s gave %d bytes, want %d", what, n, want)
	}
	return err
}

var cryptoCalls = map[string]func(*system) error{
	WorkRSASign: func(s *system) error {
		_, err := s.signOnce(pkcs11.CKM_SHA256_RSA_PKCS, s.keys.rsaPriv, s.keys.msg, 256)
		return err
	},
	WorkRSAVerify: func(s *system) error {
		return s.verifyOnce(pkcs11.CKM_SHA256_RSA_PKCS, s.keys.rsaPub, s.keys.msg, s.keys.rsaSig)
	},
	WorkECDSASign: func(s *system) error {
		_, err := s.signOnce(pkcs11.CKM_ECDSA, s.keys.ecPriv, s.keys.digest, 64)
		return err
	},
	WorkECDSAVerify: func(s *system) error {
		return s.verifyOnce(pkcs11.CKM_ECDSA, s.keys.ecPub, s.keys.digest, s.keys.ecSig)
	},
	WorkAES: func(s *system) error {
		if err := s.encryptInit(); err != nil {
			return err
		}
		n, err := s.d.encrypt(s.sh, s.keys.bulk, s.keys.out)
		return wantLen("C_Encrypt", n, aesBulk, err)
	},
	WorkAESParts: func(s *system) error {
		if err := s.encryptInit(); err != nil {
			return err
		}
		for off := 0; off < aesBulk; off += aesPart {
			n, err := s.d.encryptUpdate(s.sh, s.keys.bulk[off:off+aesPart], s.keys.out[off:off+aesPart])
			if err := wantLen("C_EncryptUpdate", n, aesPart, err); err != nil {
				return err
			}
		}
		var last [16]byte
		n, err := s.d.encryptFinal(s.sh, last[:])
		return wantLen("C_EncryptFinal", n, 0, err)
	},
	WorkDigest: func(s *system) error {
		if err := s.ctx.DigestInit(s.sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_SHA256, nil)}); err != nil {
			return fmt.Errorf("C_DigestInit: %w", err)
		}
		var sum [32]byte
		n, err := s.d.digest(s.sh, s.keys.bulk, sum[:])
		return wantLen("C_Digest", n, 32, err)
	},
	WorkDigestQuery: func(s *system) error {
		if err := s.ctx.DigestInit(s.sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_SHA256, nil)}); err != nil {
			return fmt.Errorf("C_DigestInit: %w", err)
		}
		n, err := s.d.digestLen(s.sh, s.keys.bulk)
		if err := wantLen("C_Digest's length query", n, 32, err); err != nil {
			return err
		}
		var sum [32]byte
		n, err = s.d.digest(s.sh, s.keys.bulk, sum[:n])
		return wantLen("C_Digest", n, 32, err)
	},
	WorkRSAKeygen: func(s *system) error {
		pub, priv := rsaTemplates()
		pubH, privH, err := s.generateKeyPair(rsaKeyMech, pub, priv)
		if err != nil {
			return fmt.Errorf("C_GenerateKeyPair: %w", err)
		}
		// Destroyed before the next batch, untimed.
		s.garbage = append(s.garbage, pubH, privH)
		return nil
	},
}

// collect destroys the keys the key-generation workload left.
func (s *system) collect() error {
	for len(s.garbage) > 0 {
		h := s.garbage[0]
		if err := s.ctx.DestroyObject(s.sh, h); err != nil {
			return fmt.Errorf("C_DestroyObject: %w", err)
		}
		s.garbage = s.garbage[1:]
	}
	return nil
}
