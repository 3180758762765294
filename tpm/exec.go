package tpm

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// The package's hottest commands, TPM2_Sign and TPM2_EncryptDecrypt2, are
// marshalled here by hand instead of by go-tpm's reflection, which walks a
// TPM2B_MAX_BUFFER one byte at a time: for 1 KiB of AES that was three
// quarters of the CPU the operation took, and an ECDSA signature spent
// 90 µs in it. The sessions are still go-tpm's; they compute the HMACs and
// the parameter encryption through the tpm2.Session interface, exactly as
// go-tpm's own execution does (TPM 2.0 Part 1, 18 and 19.6).

const (
	headerSize = 10 // tag, size, command or response code
	stSessions = uint16(tpm2.TPMSTSessions)
)

// execAuth runs command cc on tr, on the one handle key, authorized by key.Auth
// (a started HMAC session), with the marshalled parameters parms, whose
// first must be a TPM2B when the session encrypts. It returns the
// response's parameters, the first decrypted if the session encrypts
// responses. A TPM error comes back as its tpm2.TPMRC.
func execAuth(tr transport.TPM, cc tpm2.TPMCC, key tpm2.AuthHandle, parms []byte) ([]byte, error) {
	s := key.Auth
	if err := s.Init(tr); err != nil {
		return nil, err
	}
	if err := s.NewNonceCaller(); err != nil {
		return nil, err
	}
	if s.IsDecryption() {
		if err := s.Encrypt(first2B(parms)); err != nil {
			return nil, fmt.Errorf("encrypting the first parameter: %w", err)
		}
	}
	names := []tpm2.TPM2BName{key.Name}
	auth, err := s.Authorize(cc, parms, nil, names, 0)
	if err != nil {
		return nil, err
	}
	authSize := 4 + 2 + len(auth.Nonce.Buffer) + 1 + 2 + len(auth.Authorization.Buffer)
	cmd := make([]byte, 0, headerSize+4+4+authSize+len(parms))
	cmd = binary.BigEndian.AppendUint16(cmd, stSessions)
	cmd = binary.BigEndian.AppendUint32(cmd, 0) // the size, set below
	cmd = binary.BigEndian.AppendUint32(cmd, uint32(cc))
	cmd = binary.BigEndian.AppendUint32(cmd, uint32(key.Handle))
	cmd = binary.BigEndian.AppendUint32(cmd, uint32(authSize))
	cmd = binary.BigEndian.AppendUint32(cmd, uint32(auth.Handle))
	cmd = append2B(cmd, auth.Nonce.Buffer)
	cmd = append(cmd, sessionAttrs(auth.Attributes))
	cmd = append2B(cmd, auth.Authorization.Buffer)
	cmd = append(cmd, parms...)
	binary.BigEndian.PutUint32(cmd[2:], uint32(len(cmd)))

	rsp, err := tr.Send(cmd)
	if err != nil {
		return nil, err
	}
	if len(rsp) < headerSize || int(binary.BigEndian.Uint32(rsp[2:])) != len(rsp) {
		return nil, fmt.Errorf("TPM response of %d bytes is malformed", len(rsp))
	}
	if rc := tpm2.TPMRC(binary.BigEndian.Uint32(rsp[6:])); rc != tpm2.TPMRCSuccess {
		return nil, rc
	}
	r := &rspReader{b: rsp[headerSize:]}
	rparms := r.take(int(r.u32()))
	nonce := r.sized()
	attrs := r.u8()
	hmac := r.sized()
	if r.err != nil || len(r.b) != 0 || binary.BigEndian.Uint16(rsp) != stSessions {
		return nil, errors.New("TPM response with a malformed parameter or session area")
	}
	ra := &tpm2.TPMSAuthResponse{
		Nonce:         tpm2.TPM2BNonce{Buffer: nonce},
		Attributes:    sessionAttrsOf(attrs),
		Authorization: tpm2.TPM2BData{Buffer: hmac},
	}
	if err := s.Validate(tpm2.TPMRCSuccess, cc, rparms, names, 0, ra); err != nil {
		return nil, fmt.Errorf("TPM response: %w", err)
	}
	if s.IsEncryption() {
		if err := s.Decrypt(first2B(rparms)); err != nil {
			return nil, fmt.Errorf("decrypting the first parameter: %w", err)
		}
	}
	return rparms, nil
}

// first2B returns the contents of the TPM2B at the start of b, or nil.
func first2B(b []byte) []byte {
	if len(b) < 2 {
		return nil
	}
	n := int(binary.BigEndian.Uint16(b))
	if 2+n > len(b) {
		return nil
	}
	return b[2 : 2+n]
}

func append2B(b, v []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

// TPMA_SESSION's bits (Part 2, 8.4).
const (
	attrContinue       = 1 << 0
	attrAuditExclusive = 1 << 1
	attrAuditReset     = 1 << 2
	attrDecrypt        = 1 << 5
	attrEncrypt        = 1 << 6
	attrAudit          = 1 << 7
)

func sessionAttrs(a tpm2.TPMASession) byte {
	var b byte
	set := func(on bool, bit byte) {
		if on {
			b |= bit
		}
	}
	set(a.ContinueSession, attrContinue)
	set(a.AuditExclusive, attrAuditExclusive)
	set(a.AuditReset, attrAuditReset)
	set(a.Decrypt, attrDecrypt)
	set(a.Encrypt, attrEncrypt)
	set(a.Audit, attrAudit)
	return b
}

func sessionAttrsOf(b byte) tpm2.TPMASession {
	return tpm2.TPMASession{
		ContinueSession: b&attrContinue != 0, AuditExclusive: b&attrAuditExclusive != 0,
		AuditReset: b&attrAuditReset != 0, Decrypt: b&attrDecrypt != 0,
		Encrypt: b&attrEncrypt != 0, Audit: b&attrAudit != 0,
	}
}

// rspReader takes big-endian values off a response. The first read past
// the end sets err; it and every later read return zeros.
type rspReader struct {
	b   []byte
	err error
}

func (r *rspReader) take(n int) []byte {
	if r.err != nil || n > len(r.b) {
		r.err = errors.New("TPM response too short")
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *rspReader) u8() byte {
	if v := r.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *rspReader) u16() uint16 {
	if v := r.take(2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (r *rspReader) u32() uint32 {
	if v := r.take(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

// sized takes a TPM2B's contents.
func (r *rspReader) sized() []byte { return r.take(int(r.u16())) }
