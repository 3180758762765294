package tpm

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// SymMode is a block cipher mode of TPM2_EncryptDecrypt2.
type SymMode uint8

// The modes SymCrypt offers. CFB is CFB-128, the TPM's only CFB.
const (
	ModeCBC SymMode = iota + 1 // TPM_ALG_CBC, no padding
	ModeECB                    // TPM_ALG_ECB
	ModeCTR                    // TPM_ALG_CTR, the whole block a big-endian counter
	ModeCFB                    // TPM_ALG_CFB
)

var symModes = []struct {
	mode SymMode
	alg  tpm2.TPMAlgID
	name string
}{
	{ModeCBC, tpm2.TPMAlgCBC, "CBC"},
	{ModeECB, tpm2.TPMAlgECB, "ECB"},
	{ModeCTR, tpm2.TPMAlgCTR, "CTR"},
	{ModeCFB, tpm2.TPMAlgCFB, "CFB"},
}

func (m SymMode) String() string {
	for _, e := range symModes {
		if e.mode == m {
			return e.name
		}
	}
	return fmt.Sprintf("SymMode(%d)", uint8(m))
}

func (m SymMode) alg() (tpm2.TPMAlgID, error) {
	for _, e := range symModes {
		if e.mode == m {
			return e.alg, nil
		}
	}
	return 0, fmt.Errorf("%w: %v", ErrUnsupported, m)
}

// aesBlock is AES's block size, and the size of its IVs.
const aesBlock = 16

// defaultInputBuffer is the TPM2B_MAX_BUFFER size assumed when a TPM does
// not report TPM_PT_INPUT_BUFFER: the reference implementation's.
const defaultInputBuffer = 1024

// MaxBuffer returns the most data one TPM command takes (the TPM's
// TPM_PT_INPUT_BUFFER): SymCrypt and HMAC cut longer data into pieces of
// this size.
func (t *TPM) MaxBuffer() int { return t.maxBuffer }

// inputBuffer reads TPM_PT_INPUT_BUFFER.
func (l locked) inputBuffer() (int, error) {
	n, err := l.property(tpm2.TPMPTInputBuffer)
	switch {
	case errors.Is(err, errNoProperty):
		return defaultInputBuffer, nil
	case err != nil:
		return 0, err
	case n < aesBlock || n > maxResponseLength:
		return 0, fmt.Errorf("TPM_PT_INPUT_BUFFER of %d out of range", n)
	}
	return int(n), nil
}

// SymCrypt encrypts or decrypts data with AES or TDES key k in mode,
// authorized by auth (TPM2_EncryptDecrypt2, TPM 2.0 Part 3, 15.3). The
// block is the cipher's: 16 bytes for AES, 8 for TDES. iv is the initial
// value: empty for ECB, one block otherwise. Data goes to the TPM in pieces
// of MaxBuffer (rounded down to whole blocks), each piece continuing from
// the IV the previous one returned, so the result is that of one pass over
// all of data. For ECB and CBC, len(data) must be a multiple of the block;
// for CTR and CFB any length works, but nextIV continues the stream only
// after whole blocks. nextIV is the IV to continue with in a later call
// (nil for ECB). Encrypting needs the key's sign/encrypt attribute,
// decrypting its decrypt attribute (ErrUsage otherwise). Data travels both
// ways encrypted by the session.
func (t *TPM) SymCrypt(k KeyBlob, auth []byte, decrypt bool, mode SymMode, iv, data []byte) (out, nextIV []byte, err error) {
	out, nextIV, err = t.symCrypt(k, auth, decrypt, mode, iv, data)
	if err != nil {
		op := "encrypting"
		if decrypt {
			op = "decrypting"
		}
		return nil, nil, fmt.Errorf("%s with %s-%v: %w", op, symName(k), mode, err)
	}
	return out, nextIV, nil
}

func (t *TPM) symCrypt(k KeyBlob, auth []byte, decrypt bool, mode SymMode, iv, data []byte) ([]byte, []byte, error) {
	pk, err := t.parseKey(k)
	if err != nil {
		return nil, nil, err
	}
	if err := pk.check("AES", tpm2.TPMAlgSymCipher, decrypt); err != nil {
		return nil, nil, err
	}
	alg, err := mode.alg()
	if err != nil {
		return nil, nil, err
	}
	block := pk.block()
	if err := checkSymArgs(mode, block, iv, data); err != nil {
		return nil, nil, err
	}
	out := make([]byte, 0, len(data))
	piece := t.maxBuffer / block * block
	err = t.useKey(pk, auth, encInOut, func(l locked, key tpm2.AuthHandle) error {
		for rest := data; len(rest) > 0; {
			n := min(len(rest), piece)
			outData, ivOut, err := EncryptDecrypt2(l, key, decrypt, alg, iv, rest[:n])
			if err != nil {
				return err
			}
			if len(outData) != n {
				return fmt.Errorf("TPM returned %d bytes for %d", len(outData), n)
			}
			out = append(out, outData...)
			iv, rest = ivOut, rest[n:]
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if mode == ModeECB {
		iv = nil
	}
	return out, iv, nil
}

// block is the block size of a symmetric key's cipher.
func (pk parsedKey) block() int {
	if pk.tdesBits != 0 {
		return tdesBlock
	}
	return aesBlock
}

// symName names k's cipher in errors.
func symName(k KeyBlob) string {
	if pk, err := parsed.get(k); err == nil && pk.tdesBits != 0 {
		return "TDES"
	}
	return "AES"
}

func checkSymArgs(mode SymMode, block int, iv, data []byte) error {
	switch {
	case mode == ModeECB && len(iv) != 0:
		return errors.New("ECB takes no IV")
	case mode != ModeECB && len(iv) != block:
		return fmt.Errorf("IV of %d bytes, want %d", len(iv), block)
	case (mode == ModeECB || mode == ModeCBC) && len(data)%block != 0:
		return fmt.Errorf("data of %d bytes, not a multiple of the %d-byte block", len(data), block)
	}
	return nil
}

// EncryptDecrypt2 runs one TPM2_EncryptDecrypt2 (TPM 2.0 Part 3, 15.3) on
// tr with the loaded key, marshalled by hand (see execAuth): for code that
// sends its own commands within [TPM.Do]. mode is a TPM algorithm
// (TPM_ALG_CBC, ...); in must fit the TPM's input buffer (MaxBuffer). A
// TPM error comes back as its tpm2.TPMRC.
func EncryptDecrypt2(tr transport.TPM, key tpm2.AuthHandle, decrypt bool, mode tpm2.TPMAlgID, iv, in []byte) (out, ivOut []byte, err error) {
	parms := make([]byte, 0, 2+len(in)+1+2+2+len(iv))
	parms = append2B(parms, in)
	parms = append(parms, 0)
	if decrypt {
		parms[len(parms)-1] = 1
	}
	parms = binary.BigEndian.AppendUint16(parms, uint16(mode))
	parms = append2B(parms, iv)
	rparms, err := execAuth(tr, tpm2.TPMCCEncryptDecrypt2, key, parms)
	if err != nil {
		return nil, nil, err
	}
	r := &rspReader{b: rparms}
	out, ivOut = r.sized(), r.sized()
	if r.err != nil || len(r.b) != 0 {
		return nil, nil, errors.New("malformed TPM2_EncryptDecrypt2 response")
	}
	return out, ivOut, nil
}

// EncryptDecryptPersistent runs one TPM2_EncryptDecrypt2 with the
// persistent symmetric key at handle h, authorized by its empty
// password and with no parameter encryption: for a key whose use needs
// no secret, such as tep-provision's configuration key, whose data is
// ciphertext on the way in. mode is a TPM algorithm (TPM_ALG_CTR, ...);
// in must fit the TPM's input buffer (MaxBuffer). A TPM error comes back
// as its tpm2.TPMRC.
func (t *TPM) EncryptDecryptPersistent(h tpm2.TPMHandle, decrypt bool, mode tpm2.TPMAlgID, iv, in []byte) (out, ivOut []byte, err error) {
	err = t.do(func(l locked) error {
		key := tpm2.AuthHandle{Handle: h, Auth: tpm2.PasswordAuth(nil)}
		out, ivOut, err = EncryptDecrypt2(l, key, decrypt, mode, iv, in)
		return err
	})
	return out, ivOut, err
}
