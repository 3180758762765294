package device

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"tep.dev/tep/provisioning"
	"tep.dev/tep/tpm"
)

// deviceKeyFix is what a missing device key's error tells the operator.
const deviceKeyFix = "run `tep-provision device-key`"

// DeviceKey returns the public key of the device's ECDH key at
// provisioning.DeviceKeyHandle, to which a host encrypts configuration. A
// missing key is reported with an error wrapping ErrNotProvisioned.
func DeviceKey(t *tpm.TPM) (*ecdsa.PublicKey, error) {
	area, err := readPersistent(t, provisioning.DeviceKeyHandle, deviceKeyFix)
	if err != nil {
		return nil, fmt.Errorf("reading the device key: %w", err)
	}
	pub, err := deviceKeyOf(area)
	if err != nil {
		return nil, fmt.Errorf("reading the device key: %w", err)
	}
	return pub, nil
}

// deviceKeyOf checks that area is a key-agreement ECC key (decrypt, not
// restricted) on P-256 or P-384 and returns its public key.
func deviceKeyOf(area *tpm2.TPMTPublic) (*ecdsa.PublicKey, error) {
	if area.Type != tpm2.TPMAlgECC || !area.ObjectAttributes.Decrypt || area.ObjectAttributes.Restricted {
		return nil, fmt.Errorf("handle 0x%08x is not an ECDH key", uint32(provisioning.DeviceKeyHandle))
	}
	return eccPublic(area)
}

// eccPublic converts an ECC public area on P-256 or P-384 to a Go key.
func eccPublic(area *tpm2.TPMTPublic) (*ecdsa.PublicKey, error) {
	pub, err := tpm.PublicKeyOf(area)
	if err != nil {
		return nil, err
	}
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return nil, errors.New("not an ECC key")
	}
	if c := k.Curve; c != elliptic.P256() && c != elliptic.P384() {
		return nil, fmt.Errorf("%w: curve %s", tpm.ErrUnsupported, c.Params().Name)
	}
	return k, nil
}

// ZGen returns the ECDH shared secret of the device key and peer: the
// x-coordinate of d·Q, as many bytes as the curve's field, the value
// crypto/ecdh's ECDH returns on the other side (TPM2_ECDH_ZGen, TPM 2.0
// Part 3, 14.5). peer must be on the device key's curve. The point comes
// back from the TPM encrypted, by a session salted with the storage key,
// so the secret never crosses the bus in clear. A missing device key is
// reported with an error wrapping ErrNotProvisioned.
func ZGen(t *tpm.TPM, peer *ecdh.PublicKey) ([]byte, error) {
	z, err := zgen(t, peer)
	if err != nil {
		return nil, fmt.Errorf("ECDH with the device key: %w", err)
	}
	return z, nil
}

func zgen(t *tpm.TPM, peer *ecdh.PublicKey) ([]byte, error) {
	area, err := readPersistent(t, provisioning.DeviceKeyHandle, deviceKeyFix)
	if err != nil {
		return nil, err
	}
	own, err := deviceKeyOf(area)
	if err != nil {
		return nil, err
	}
	ownECDH, err := own.ECDH()
	if err != nil {
		return nil, err
	}
	if peer == nil || peer.Curve() != ownECDH.Curve() {
		return nil, fmt.Errorf("the peer key is not on the device key's curve %v", own.Curve.Params().Name)
	}
	raw := peer.Bytes() // uncompressed: 4 || X || Y
	size := (len(raw) - 1) / 2
	name, err := tpm2.ObjectName(area)
	if err != nil {
		return nil, err
	}
	srk, srkPub := t.SRK()
	var z []byte
	err = t.Do(func(tr transport.TPM) error {
		sess, closeSess, err := tpm2.HMACSession(tr, tpm2.TPMAlgSHA256, 16,
			tpm2.Salted(srk.Handle, srkPub), tpm2.AESEncryption(128, tpm2.EncryptOut))
		if err != nil {
			return fmt.Errorf("starting a session: %w", err)
		}
		defer closeSess()
		rsp, err := tpm2.ECDHZGen{
			KeyHandle: tpm2.AuthHandle{Handle: provisioning.DeviceKeyHandle, Name: *name, Auth: sess},
			InPoint: tpm2.New2B(tpm2.TPMSECCPoint{
				X: tpm2.TPM2BECCParameter{Buffer: raw[1 : 1+size]},
				Y: tpm2.TPM2BECCParameter{Buffer: raw[1+size:]},
			}),
		}.Execute(tr)
		if err != nil {
			return err
		}
		pt, err := rsp.OutPoint.Contents()
		if err != nil {
			return err
		}
		if len(pt.X.Buffer) > size {
			return errors.New("the TPM returned a coordinate too long")
		}
		z = make([]byte, size)
		copy(z[size-len(pt.X.Buffer):], pt.X.Buffer)
		return nil
	})
	return z, err
}
