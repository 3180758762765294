package tpm

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

// go-tpm v0.9.8 has no types for TPM2_StirRandom,
// TPM2_DictionaryAttackParameters or TPM2_DictionaryAttackLockReset, and its
// command machinery is not exported, so these are built here from the
// command layout of TPM 2.0 Part 1, 18: header, handles, authorization
// area, parameters. Sessions still come from go-tpm, which computes their
// HMACs and checks the TPM's.

// errShortResponse reports a response shorter than its header says.
var errShortResponse = errors.New("malformed TPM response")

// authorized is a handle in a command's handle area together with the
// session that authorizes it.
type authorized struct {
	handle tpm2.NamedHandle
	sess   tpm2.Session
}

// command sends a command with at most one authorized handle and returns
// the response parameters. A TPM error comes back as a tpm2.TPMRC.
func (l locked) command(cc tpm2.TPMCC, auth *authorized, params []byte) ([]byte, error) {
	tag := tpm2.TPMSTNoSessions
	cmd := make([]byte, tpmHeaderLength) // tag and size are filled in below
	binary.BigEndian.PutUint32(cmd[6:10], uint32(cc))
	var names []tpm2.TPM2BName
	if auth != nil {
		tag = tpm2.TPMSTSessions
		names = []tpm2.TPM2BName{auth.handle.Name}
		area, err := authArea(auth.sess, l, cc, params, names)
		if err != nil {
			return nil, err
		}
		cmd = binary.BigEndian.AppendUint32(cmd, uint32(auth.handle.Handle))
		cmd = binary.BigEndian.AppendUint32(cmd, uint32(len(area)))
		cmd = append(cmd, area...)
	}
	cmd = append(cmd, params...)
	binary.BigEndian.PutUint16(cmd[0:2], uint16(tag))
	binary.BigEndian.PutUint32(cmd[2:6], uint32(len(cmd)))

	rsp, err := l.Send(cmd)
	if err != nil {
		return nil, err
	}
	return parseResponse(rsp, cc, auth, names)
}

// authArea returns the marshalled authorization area of one session.
func authArea(s tpm2.Session, l locked, cc tpm2.TPMCC, params []byte, names []tpm2.TPM2BName) ([]byte, error) {
	if err := s.Init(l); err != nil {
		return nil, fmt.Errorf("starting session: %w", err)
	}
	if err := s.NewNonceCaller(); err != nil {
		return nil, err
	}
	ac, err := s.Authorize(cc, params, nil, names, 0)
	if err != nil {
		return nil, fmt.Errorf("authorizing: %w", err)
	}
	return tpm2.Marshal(*ac), nil
}

// parseResponse checks a response and returns its parameters; with a
// session, it has the session check the TPM's response HMAC.
func parseResponse(rsp []byte, cc tpm2.TPMCC, auth *authorized, names []tpm2.TPM2BName) ([]byte, error) {
	if len(rsp) < tpmHeaderLength || binary.BigEndian.Uint32(rsp[2:6]) != uint32(len(rsp)) {
		return nil, errShortResponse
	}
	if rc := tpm2.TPMRC(binary.BigEndian.Uint32(rsp[6:10])); rc != tpm2.TPMRCSuccess {
		return nil, rc
	}
	rest := rsp[tpmHeaderLength:]
	if auth == nil {
		return rest, nil
	}
	if len(rest) < 4 || uint64(binary.BigEndian.Uint32(rest)) > uint64(len(rest)-4) {
		return nil, errShortResponse
	}
	n := binary.BigEndian.Uint32(rest)
	params, area := rest[4:4+n], rest[4+n:]
	ar, err := tpm2.Unmarshal[tpm2.TPMSAuthResponse](area)
	if err != nil {
		return nil, fmt.Errorf("parsing response session: %w", err)
	}
	if err := auth.sess.Validate(tpm2.TPMRCSuccess, cc, params, names, 0, ar); err != nil {
		return nil, fmt.Errorf("checking response session: %w", err)
	}
	return params, nil
}
