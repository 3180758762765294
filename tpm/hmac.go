package tpm

import (
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

// HMAC returns the HMAC of data under HMAC key k, authorized by auth, with
// the key's hash. Data up to MaxBuffer bytes takes one TPM2_HMAC (TPM 2.0
// Part 3, 15.5); longer data an HMAC sequence (17.2, 17.4, 17.5), which
// holds the one transient slot the key cache leaves free. Data travels to
// the TPM encrypted by a session; the result comes back in clear. A key
// without the sign attribute gives ErrUsage.
func (t *TPM) HMAC(k KeyBlob, auth, data []byte) ([]byte, error) {
	mac, err := t.hmac(k, auth, data)
	if err != nil {
		return nil, fmt.Errorf("computing HMAC: %w", err)
	}
	return mac, nil
}

func (t *TPM) hmac(k KeyBlob, auth, data []byte) ([]byte, error) {
	pk, err := t.parseKey(k)
	if err != nil {
		return nil, err
	}
	if err := pk.check("HMAC", tpm2.TPMAlgKeyedHash, false); err != nil {
		return nil, err
	}
	var mac []byte
	err = t.useKey(pk, auth, encIn, func(l locked, key tpm2.AuthHandle) error {
		if len(data) <= l.t.maxBuffer {
			// HashAlg is not nullable in go-tpm: TPM_ALG_NULL, the key's.
			rsp, err := tpm2.Hmac{Handle: key, Buffer: tpm2.TPM2BMaxBuffer{Buffer: data}, HashAlg: tpm2.TPMAlgNull}.Execute(l)
			if err != nil {
				return err
			}
			mac = rsp.OutHMAC.Buffer
			return nil
		}
		mac, err = l.hmacSequence(key, data)
		return err
	})
	return mac, err
}

// hmacSequence computes an HMAC over data of any length. The sequence
// object's auth is empty: it exists only while the TPM's mutex is held, and
// the key's auth was checked by TPM2_HMAC_Start.
func (l locked) hmacSequence(key tpm2.AuthHandle, data []byte) ([]byte, error) {
	rsp, err := tpm2.HmacStart{Handle: key}.Execute(l)
	if err != nil {
		return nil, err
	}
	seq := rsp.SequenceHandle
	sess, closeSess, err := l.session(l.t.srk, nil, tpm2.AESEncryption(128, tpm2.EncryptIn))
	if err != nil {
		return nil, errors.Join(err, l.flush(seq))
	}
	defer closeSess()
	h := tpm2.AuthHandle{Handle: seq, Auth: sess}
	for len(data) > l.t.maxBuffer {
		n := l.t.maxBuffer
		_, err := tpm2.SequenceUpdate{SequenceHandle: h, Buffer: tpm2.TPM2BMaxBuffer{Buffer: data[:n]}}.Execute(l)
		if err != nil {
			return nil, errors.Join(err, l.flush(seq))
		}
		data = data[n:]
	}
	done, err := tpm2.SequenceComplete{SequenceHandle: h, Buffer: tpm2.TPM2BMaxBuffer{Buffer: data}}.Execute(l)
	if err != nil {
		return nil, errors.Join(err, l.flush(seq))
	}
	return done.Result.Buffer, nil
}
