package tpm

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

const (
	// MaxSealedSecret is the largest secret Seal takes (MAX_SYM_DATA).
	MaxSealedSecret = maxSymData
	// MaxAuth is the longest authorization value: the size of a SHA-256
	// digest, the sealed object's name algorithm.
	MaxAuth = 32
	// nonceSize is the caller nonce size of the package's sessions.
	nonceSize = 16
)

// Sealed is a secret sealed by the TPM: the marshalled TPM2B_PUBLIC and
// TPM2B_PRIVATE of a sealed-data object under the storage primary key. Only
// the TPM that sealed it (with the same owner seed) can unseal it.
type Sealed struct {
	Public  []byte
	Private []byte
}

// Seal seals secret (at most MaxSealedSecret bytes) in a TPM object whose
// authorization value is auth (at most MaxAuth bytes; callers derive it
// from a PIN or passphrase). The object is under dictionary-attack
// protection, so every wrong auth given to Unseal counts. The secret and
// auth travel to the TPM encrypted by a session salted with the storage
// primary key.
func (t *TPM) Seal(secret, auth []byte) (Sealed, error) {
	return t.seal(secret, auth, false)
}

// SealNoDA seals secret with an empty authorization in an object exempt
// from dictionary-attack protection: for a secret that only this TPM may
// release, that has no PIN to guess, and that must stay usable during a
// lockout (tepd's channel key). Unseal it with a nil auth.
func (t *TPM) SealNoDA(secret []byte) (Sealed, error) {
	return t.seal(secret, nil, true)
}

func (t *TPM) seal(secret, auth []byte, noDA bool) (Sealed, error) {
	if len(secret) > MaxSealedSecret || len(auth) > MaxAuth {
		return Sealed{}, fmt.Errorf("sealing: secret of %d or auth of %d bytes too long", len(secret), len(auth))
	}
	pub, priv, err := t.createUnderSRK(&tpm2.TPMSSensitiveCreate{
		UserAuth: tpm2.TPM2BAuth{Buffer: auth},
		Data:     tpm2.NewTPMUSensitiveCreate(&tpm2.TPM2BSensitiveData{Buffer: secret}),
	}, tpm2.New2B(sealedTemplate(noDA)))
	if err != nil {
		return Sealed{}, fmt.Errorf("sealing: %w", err)
	}
	return Sealed{Public: pub, Private: priv}, nil
}

// sealedTemplate is a sealed-data object (TPM 2.0 Part 1, 27.2.1): a
// keyedhash object that neither signs nor decrypts, usable with its
// authValue, bound to this TPM and parent, and exempt from
// dictionary-attack protection only if noDA is set.
func sealedTemplate(noDA bool) tpm2.TPMTPublic {
	return tpm2.TPMTPublic{
		Type:    tpm2.TPMAlgKeyedHash,
		NameAlg: tpm2.TPMAlgSHA256,
		ObjectAttributes: tpm2.TPMAObject{
			FixedTPM:     true,
			FixedParent:  true,
			UserWithAuth: true,
			NoDA:         noDA,
		},
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgKeyedHash, &tpm2.TPMSKeyedHashParms{
			Scheme: tpm2.TPMTKeyedHashScheme{Scheme: tpm2.TPMAlgNull},
		}),
	}
}

// Unseal returns the secret in s if auth is its authorization value. A
// wrong auth gives an error that matches ErrAuthFail; during lockout the
// error matches ErrLockout. auth never crosses the bus: it only keys the
// HMAC of a session salted with the storage primary key, and the secret
// comes back encrypted by that session.
func (t *TPM) Unseal(s Sealed, auth []byte) ([]byte, error) {
	pub, priv, err := parseSealed(s)
	if err != nil {
		return nil, fmt.Errorf("unsealing: %w", err)
	}
	var secret []byte
	err = t.do(func(l locked) error {
		obj, err := l.load(pub, priv)
		if err != nil {
			return err
		}
		defer l.flush(obj.Handle)
		sess, closeSess, err := l.session(obj, auth, tpm2.AESEncryption(128, tpm2.EncryptOut))
		if err != nil {
			return err
		}
		defer closeSess()
		rsp, err := tpm2.Unseal{
			ItemHandle: tpm2.AuthHandle{Handle: obj.Handle, Name: obj.Name, Auth: sess},
		}.Execute(l)
		if err != nil {
			return authError(err)
		}
		secret = rsp.OutData.Buffer
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("unsealing: %w", err)
	}
	return secret, nil
}

// load loads an object under the storage primary key; the caller flushes it.
func (l locked) load(pub tpm2.TPM2BPublic, priv tpm2.TPM2BPrivate) (tpm2.NamedHandle, error) {
	srk := l.t.srk
	rsp, err := tpm2.Load{
		ParentHandle: tpm2.AuthHandle{Handle: srk.Handle, Name: srk.Name, Auth: tpm2.PasswordAuth(nil)},
		InPrivate:    priv,
		InPublic:     pub,
	}.Execute(l)
	if err != nil {
		return tpm2.NamedHandle{}, fmt.Errorf("loading object: %w", err)
	}
	return tpm2.NamedHandle{Handle: rsp.ObjectHandle, Name: rsp.Name}, nil
}

// parseSealed decodes the two blobs of s, refusing trailing bytes and
// anything but a keyedhash object.
func parseSealed(s Sealed) (tpm2.TPM2BPublic, tpm2.TPM2BPrivate, error) {
	pub, err := tpm2.Unmarshal[tpm2.TPM2BPublic](s.Public)
	if err != nil || !bytes.Equal(tpm2.Marshal(*pub), s.Public) {
		return tpm2.TPM2BPublic{}, tpm2.TPM2BPrivate{}, errors.New("malformed public blob")
	}
	priv, err := tpm2.Unmarshal[tpm2.TPM2BPrivate](s.Private)
	if err != nil || !bytes.Equal(tpm2.Marshal(*priv), s.Private) {
		return tpm2.TPM2BPublic{}, tpm2.TPM2BPrivate{}, errors.New("malformed private blob")
	}
	area, err := pub.Contents()
	if err != nil || area.Type != tpm2.TPMAlgKeyedHash {
		return tpm2.TPM2BPublic{}, tpm2.TPM2BPrivate{}, errors.New("public blob is not a sealed-data object")
	}
	return *pub, *priv, nil
}
