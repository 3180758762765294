package config

import (
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"tep.dev/tep/provisioning"
	"tep.dev/tep/tpm"
)

// ErrNotProvisioned is a TPM without the policy key, the AES key or the
// device key that apply needs.
var ErrNotProvisioned = errors.New("TPM not provisioned for tep-config")

// TPMDevice is the Device of a TPM that tep-provision provisioned: the
// policy key in NV, the epoch counter, the AES key and the device key at
// their handles (package provisioning).
type TPMDevice struct{ T *tpm.TPM }

// notProvisioned turns a TPM's "no such handle" into ErrNotProvisioned,
// with what to do.
func notProvisioned(err error, what string, h tpm2.TPMHandle) error {
	if errors.Is(err, tpm2.TPMRCHandle) {
		return fmt.Errorf("%w: no %s at %#08x: run tep-provision device first", ErrNotProvisioned, what, uint32(h))
	}
	return fmt.Errorf("reading the %s at %#08x: %w", what, uint32(h), err)
}

// PolicyKey reads the policy-signing key from NV (DER SubjectPublicKeyInfo).
func (d TPMDevice) PolicyKey() (*ecdsa.PublicKey, error) {
	const idx = provisioning.PolicyKeyIndex
	var der []byte
	err := d.T.Do(func(tr transport.TPM) error {
		var err error
		der, err = nvRead(tr, idx)
		return err
	})
	if err != nil {
		return nil, notProvisioned(err, "policy key", idx)
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("policy key at %#08x: %w", uint32(idx), err)
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("policy key at %#08x is %T, not ECDSA", uint32(idx), pub)
	}
	return ec, nil
}

func nvRead(tr transport.TPM, idx tpm2.TPMHandle) ([]byte, error) {
	rp, err := tpm2.NVReadPublic{NVIndex: idx}.Execute(tr)
	if err != nil {
		return nil, err
	}
	pub, err := rp.NVPublic.Contents()
	if err != nil {
		return nil, err
	}
	if !pub.Attributes.Written {
		return nil, tpm2.TPMRCHandle
	}
	var out []byte
	for off := 0; off < int(pub.DataSize); {
		n := min(512, int(pub.DataSize)-off)
		r, err := tpm2.NVRead{
			AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
			NVIndex:    tpm2.NamedHandle{Handle: idx, Name: rp.NVName},
			Size:       uint16(n), Offset: uint16(off),
		}.Execute(tr)
		if err != nil {
			return nil, err
		}
		out = append(out, r.Data.Buffer...)
		off += n
	}
	return out, nil
}

// Epoch reads the epoch counter: 0 while it is not defined or written.
func (d TPMDevice) Epoch() (uint64, error) {
	var v uint64
	err := d.T.Do(func(tr transport.TPM) error {
		b, err := nvRead(tr, provisioning.ConfigEpochIndex)
		if errors.Is(err, tpm2.TPMRCHandle) {
			return nil
		}
		if err != nil {
			return err
		}
		if len(b) != 8 {
			return fmt.Errorf("counter of %d bytes", len(b))
		}
		v = binary.BigEndian.Uint64(b)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("reading the epoch counter %#08x: %w", uint32(provisioning.ConfigEpochIndex), err)
	}
	return v, nil
}

// RaiseEpoch raises the epoch counter to at least to, defining it first
// if need be. A TPM counter moves by one per TPM2_NV_Increment.
func (d TPMDevice) RaiseEpoch(to uint64) error {
	const idx = provisioning.ConfigEpochIndex
	err := d.T.Do(func(tr transport.TPM) error {
		rp, err := tpm2.NVReadPublic{NVIndex: idx}.Execute(tr)
		if errors.Is(err, tpm2.TPMRCHandle) {
			rp, err = defineCounter(tr, idx)
		}
		if err != nil {
			return err
		}
		for {
			cur := uint64(0)
			b, err := nvRead(tr, idx)
			switch {
			case err == nil:
				cur = binary.BigEndian.Uint64(b)
			case !errors.Is(err, tpm2.TPMRCHandle):
				return err
			}
			if cur >= to && err == nil {
				return nil
			}
			_, err = tpm2.NVIncrement{
				AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
				NVIndex:    tpm2.NamedHandle{Handle: idx, Name: rp.NVName},
			}.Execute(tr)
			if err != nil {
				return err
			}
			if rp, err = (tpm2.NVReadPublic{NVIndex: idx}).Execute(tr); err != nil {
				return err
			}
		}
	})
	if err != nil {
		return fmt.Errorf("raising the epoch counter %#08x to %d: %w", uint32(idx), to, err)
	}
	return nil
}

func defineCounter(tr transport.TPM, idx tpm2.TPMHandle) (*tpm2.NVReadPublicResponse, error) {
	_, err := tpm2.NVDefineSpace{
		AuthHandle: tpm2.TPMRHOwner,
		PublicInfo: tpm2.New2B(tpm2.TPMSNVPublic{
			NVIndex: idx, NameAlg: tpm2.TPMAlgSHA256, DataSize: 8,
			Attributes: tpm2.TPMANV{OwnerWrite: true, OwnerRead: true, AuthRead: true, NoDA: true, NT: tpm2.TPMNTCounter},
		}),
	}.Execute(tr)
	if err != nil {
		return nil, err
	}
	return tpm2.NVReadPublic{NVIndex: idx}.Execute(tr)
}

// NewCTR returns the AES-CTR keystream of the key at AESKeyHandle.
func (d TPMDevice) NewCTR(iv []byte) (cipher.Stream, error) {
	const h = provisioning.AESKeyHandle
	var name tpm2.TPM2BName
	err := d.T.Do(func(tr transport.TPM) error {
		rp, err := tpm2.ReadPublic{ObjectHandle: h}.Execute(tr)
		if err == nil {
			name = rp.Name
		}
		return err
	})
	if err != nil {
		return nil, notProvisioned(err, "configuration AES key", h)
	}
	return &tpmCTR{t: d.T, key: tpm2.AuthHandle{Handle: h, Name: name, Auth: tpm2.PasswordAuth(nil)}, iv: iv}, nil
}

// tpmCTR runs TPM2_EncryptDecrypt2 in CTR mode over each call's data,
// in pieces of the TPM's input buffer, chaining the IV on the host.
type tpmCTR struct {
	t   *tpm.TPM
	key tpm2.AuthHandle
	iv  []byte
	err error
}

func (s *tpmCTR) XORKeyStream(dst, src []byte) {
	if s.err != nil {
		return
	}
	piece := s.t.MaxBuffer() / 16 * 16
	s.err = s.t.Do(func(tr transport.TPM) error {
		for len(src) > 0 {
			if len(s.iv) == 0 {
				return errors.New("CTR stream continued after a partial block")
			}
			n := min(piece, len(src))
			r, err := tpm2.EncryptDecrypt2{
				KeyHandle: s.key, Message: tpm2.TPM2BMaxBuffer{Buffer: src[:n]},
				Decrypt: true, Mode: tpm2.TPMAlgCTR, IV: tpm2.TPM2BIV{Buffer: s.iv},
			}.Execute(tr)
			if err != nil {
				return fmt.Errorf("TPM2_EncryptDecrypt2: %w", err)
			}
			copy(dst, r.OutData.Buffer)
			s.iv = r.IV.Buffer
			if n%16 != 0 {
				s.iv = nil
			}
			dst, src = dst[n:], src[n:]
		}
		return nil
	})
}

// Err is the stream's first failure.
func (s *tpmCTR) Err() error { return s.err }

// ZGen runs TPM2_ECDH_ZGen with the key at DeviceKeyHandle.
func (d TPMDevice) ZGen(peer *ecdh.PublicKey) ([]byte, error) {
	const h = provisioning.DeviceKeyHandle
	b := peer.Bytes()
	size := (len(b) - 1) / 2
	x, y := new(big.Int).SetBytes(b[1:1+size]), new(big.Int).SetBytes(b[1+size:])
	var z []byte
	err := d.T.Do(func(tr transport.TPM) error {
		rp, err := tpm2.ReadPublic{ObjectHandle: h}.Execute(tr)
		if err != nil {
			return err
		}
		r, err := tpm2.ECDHZGen{
			KeyHandle: tpm2.AuthHandle{Handle: h, Name: rp.Name, Auth: tpm2.PasswordAuth(nil)},
			InPoint: tpm2.New2B(tpm2.TPMSECCPoint{
				X: tpm2.TPM2BECCParameter{Buffer: x.FillBytes(make([]byte, size))},
				Y: tpm2.TPM2BECCParameter{Buffer: y.FillBytes(make([]byte, size))},
			}),
		}.Execute(tr)
		if err != nil {
			return err
		}
		p, err := r.OutPoint.Contents()
		if err != nil {
			return err
		}
		if len(p.X.Buffer) > size {
			return fmt.Errorf("ZGen returned a %d-byte x for a %d-byte curve", len(p.X.Buffer), size)
		}
		// Padded as crypto/ecdh pads it, should the TPM strip zeros.
		z = make([]byte, size)
		copy(z[size-len(p.X.Buffer):], p.X.Buffer)
		return nil
	})
	if err != nil {
		return nil, notProvisioned(err, "device ECDH key", h)
	}
	return z, nil
}
