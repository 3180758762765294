package device

import (
	"crypto/aes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"tep.dev/tep/provisioning"
	"tep.dev/tep/tpm"
)

// AESFingerprint identifies an AES key without revealing it: the SHA-256
// digest of the key's encryption of one zero block (AES-ECB of 16 zero
// bytes; a known-plaintext pair gives nothing of the key away). The host
// computes it from the key file (docs/provisioning.md has the OpenSSL
// command), the device from the TPM with AESKeyFingerprint.
func AESFingerprint(key []byte) ([32]byte, error) {
	c, err := aes.NewCipher(key)
	if err != nil {
		return [32]byte{}, err
	}
	var b [block]byte
	c.Encrypt(b[:], b[:])
	return sha256.Sum256(b[:]), nil
}

// AESKeyFingerprint returns AESFingerprint of the key at
// provisioning.AESKeyHandle, computed by the TPM: the first block of the
// AES-CTR keystream from a zero counter is the encryption of that zero
// block.
func AESKeyFingerprint(t *tpm.TPM) ([32]byte, error) {
	s, err := NewCTR(t, make([]byte, block))
	if err != nil {
		return [32]byte{}, err
	}
	b := make([]byte, block)
	s.XORKeyStream(b, b)
	if err := s.(*CTR).Err(); err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(b), nil
}

// ImportAESKey imports key (16 or 32 bytes) under the storage primary key
// (TPM2_Import, TPM 2.0 Part 3, 13.3, through tpm.ImportKey) and makes it
// persistent at provisioning.AESKeyHandle (TPM2_EvictControl, Part 3,
// 28.5) with the owner's authorization. The key is a symmetric-cipher
// object, neither restricted nor a parent, with the sign/encrypt and
// decrypt attributes: the TPM uses it for TPM2_EncryptDecrypt(2) and
// nothing else. Its authorization value is empty and it is noDA.
//
// It is idempotent like WritePolicyKey: the same key again changes
// nothing (changed false); another key at the handle is refused with an
// error wrapping ErrConflict that names the handle and the fingerprint
// found (AESFingerprint), unless replace is set, which evicts it first.
func ImportAESKey(t *tpm.TPM, key []byte, replace bool) (changed bool, err error) {
	changed, err = importAESKey(t, key, replace)
	if err != nil {
		return false, fmt.Errorf("provisioning the AES key: %w", err)
	}
	return changed, nil
}

func importAESKey(t *tpm.TPM, key []byte, replace bool) (bool, error) {
	present, err := checkAESKeyAt(t, key)
	switch {
	case errors.Is(err, ErrConflict) && replace:
		if err := evict(t, provisioning.AESKeyHandle); err != nil {
			return false, err
		}
	case err != nil:
		return false, err
	case present:
		return false, nil
	}
	blob, err := t.ImportKey(tpm.KeySpec{Kind: tpm.KindAES, Bits: 8 * len(key), Sign: true, Decrypt: true}, key, nil)
	if err != nil {
		return false, err
	}
	return true, persist(t, blob, provisioning.AESKeyHandle)
}

// checkAESKeyAt reports whether key is at AESKeyHandle already (present)
// or nothing is; anything else there is an error wrapping ErrConflict
// that names the handle and the fingerprint found.
func checkAESKeyAt(t *tpm.TPM, key []byte) (present bool, err error) {
	want, err := AESFingerprint(key)
	if err != nil {
		return false, err
	}
	if _, err := readPersistent(t, provisioning.AESKeyHandle, ""); errors.Is(err, ErrNotProvisioned) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	found, err := AESKeyFingerprint(t)
	switch {
	case err != nil:
		return false, fmt.Errorf("%w: handle 0x%08x holds an object that is not a usable AES key (%v); run with --replace to overwrite it", ErrConflict, uint32(provisioning.AESKeyHandle), err)
	case subtle.ConstantTimeCompare(found[:], want[:]) != 1:
		return false, fmt.Errorf("%w: handle 0x%08x holds the AES key with fingerprint SHA256:%x; run with --replace to overwrite it", ErrConflict, uint32(provisioning.AESKeyHandle), found)
	}
	return true, nil
}

// CreateDeviceKey makes an ECDH key on curve (P-256 or P-384) in the TPM:
// fixedTPM, fixedParent and sensitiveDataOrigin, so its private part never
// leaves this TPM; decrypt only (key agreement, TPM2_ECDH_ZGen), neither
// restricted nor able to sign. It is made persistent at
// provisioning.DeviceKeyHandle. A key already there is kept and returned
// (changed false) unless replace is set; one on another curve is refused
// with an error wrapping ErrConflict, as is any other object there.
func CreateDeviceKey(t *tpm.TPM, curve elliptic.Curve, replace bool) (pub *ecdsa.PublicKey, changed bool, err error) {
	pub, changed, err = createDeviceKey(t, curve, replace)
	if err != nil {
		return nil, false, fmt.Errorf("making the device key: %w", err)
	}
	return pub, changed, nil
}

func createDeviceKey(t *tpm.TPM, curve elliptic.Curve, replace bool) (*ecdsa.PublicKey, bool, error) {
	if curve != elliptic.P256() && curve != elliptic.P384() {
		return nil, false, errors.New("the device key's curve must be P-256 or P-384")
	}
	old, err := DeviceKey(t)
	switch {
	case err == nil && !replace && old.Curve == curve:
		return old, false, nil
	case err == nil && !replace:
		return nil, false, fmt.Errorf("%w: handle 0x%08x holds a %s key with fingerprint SHA256:%x; run with --replace to make a new one", ErrConflict, uint32(provisioning.DeviceKeyHandle), old.Curve.Params().Name, Fingerprint(old))
	case err == nil:
		if err := evict(t, provisioning.DeviceKeyHandle); err != nil {
			return nil, false, err
		}
	case !errors.Is(err, ErrNotProvisioned):
		if !replace {
			return nil, false, fmt.Errorf("%w: %w; run with --replace to make a new one", ErrConflict, err)
		}
		if err := evict(t, provisioning.DeviceKeyHandle); err != nil {
			return nil, false, err
		}
	}
	blob, pk, err := t.CreateKey(tpm.KeySpec{Kind: tpm.KindECC, Curve: curve, Decrypt: true}, nil)
	if err != nil {
		return nil, false, err
	}
	if err := persist(t, blob, provisioning.DeviceKeyHandle); err != nil {
		return nil, false, err
	}
	return pk.(*ecdsa.PublicKey), true, nil
}

// persist loads blob under the storage primary key and makes it
// persistent at h (TPM2_EvictControl), flushing the transient copy.
func persist(t *tpm.TPM, blob tpm.KeyBlob, h tpm2.TPMHandle) error {
	pub, err := tpm2.Unmarshal[tpm2.TPM2BPublic](blob.Public)
	if err != nil {
		return err
	}
	priv, err := tpm2.Unmarshal[tpm2.TPM2BPrivate](blob.Private)
	if err != nil {
		return err
	}
	srk, _ := t.SRK()
	return t.Do(func(tr transport.TPM) error {
		rsp, err := tpm2.Load{
			ParentHandle: tpm2.AuthHandle{Handle: srk.Handle, Name: srk.Name, Auth: tpm2.PasswordAuth(nil)},
			InPrivate:    *priv,
			InPublic:     *pub,
		}.Execute(tr)
		if err != nil {
			return fmt.Errorf("loading the key: %w", err)
		}
		defer tpm2.FlushContext{FlushHandle: rsp.ObjectHandle}.Execute(tr)
		_, err = tpm2.EvictControl{
			Auth:             ownerAuth,
			ObjectHandle:     tpm2.NamedHandle{Handle: rsp.ObjectHandle, Name: rsp.Name},
			PersistentHandle: h,
		}.Execute(tr)
		if err != nil {
			return fmt.Errorf("making the key persistent at 0x%08x: %w", uint32(h), err)
		}
		return nil
	})
}

// evict removes the persistent object at h (TPM2_EvictControl by the
// owner).
func evict(t *tpm.TPM, h tpm2.TPMHandle) error {
	return t.Do(func(tr transport.TPM) error {
		rsp, err := tpm2.ReadPublic{ObjectHandle: h}.Execute(tr)
		if err != nil {
			return fmt.Errorf("reading handle 0x%08x: %w", uint32(h), err)
		}
		_, err = tpm2.EvictControl{
			Auth:             ownerAuth,
			ObjectHandle:     tpm2.NamedHandle{Handle: h, Name: rsp.Name},
			PersistentHandle: h,
		}.Execute(tr)
		if err != nil {
			return fmt.Errorf("evicting handle 0x%08x: %w", uint32(h), err)
		}
		return nil
	})
}
