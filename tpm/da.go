package tpm

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/google/go-tpm/tpm2"
)

// SetDictionaryAttack sets the TPM's dictionary-attack parameters
// (TPM2_DictionaryAttackParameters, Part 3, 25.3): after maxTries
// authorization failures on protected objects the TPM locks out; one failure
// is forgotten every recoveryTime seconds; after a failed lockoutAuth the
// lockout hierarchy waits lockoutRecovery seconds (0: until reboot).
// lockoutAuth is the lockout hierarchy's authorization value, empty on a
// fresh TPM. A wrong lockoutAuth gives an error matching ErrAuthFail and
// locks the lockout hierarchy for lockoutRecovery.
func (t *TPM) SetDictionaryAttack(maxTries, recoveryTime, lockoutRecovery uint32, lockoutAuth []byte) error {
	params := binary.BigEndian.AppendUint32(nil, maxTries)
	params = binary.BigEndian.AppendUint32(params, recoveryTime)
	params = binary.BigEndian.AppendUint32(params, lockoutRecovery)
	if err := t.lockoutCommand(tpm2.TPMCCDictionaryAttackParameters, params, lockoutAuth); err != nil {
		return fmt.Errorf("setting dictionary-attack parameters: %w", err)
	}
	return nil
}

// ResetLockout clears the TPM's dictionary-attack failure count and ends a
// lockout (TPM2_DictionaryAttackLockReset, Part 3, 25.2).
func (t *TPM) ResetLockout(lockoutAuth []byte) error {
	if err := t.lockoutCommand(tpm2.TPMCCDictionaryAttackLockReset, nil, lockoutAuth); err != nil {
		return fmt.Errorf("resetting dictionary-attack lockout: %w", err)
	}
	return nil
}

// maxAuthBuffer is the largest TPM2B_AUTH: a SHA-512 digest (Part 2, 10.4.3).
const maxAuthBuffer = 64

// lockoutCommand runs a command authorized by the lockout hierarchy through
// a salted session, so lockoutAuth does not cross the bus.
func (t *TPM) lockoutCommand(cc tpm2.TPMCC, params, lockoutAuth []byte) error {
	if len(lockoutAuth) > maxAuthBuffer {
		return fmt.Errorf("lockout auth of %d bytes too long", len(lockoutAuth))
	}
	lockout := tpm2.NamedHandle{Handle: tpm2.TPMRHLockout, Name: tpm2.HandleName(tpm2.TPMRHLockout)}
	return t.do(func(l locked) error {
		sess, closeSess, err := l.session(lockout, lockoutAuth, nil)
		if err != nil {
			return err
		}
		defer closeSess()
		_, err = l.command(cc, &authorized{handle: lockout, sess: sess}, params)
		return authError(err)
	})
}

// DAState is the TPM's dictionary-attack state, shared by every user of
// the TPM: each authorization failure on an object without noDA adds one
// to Counter; when Counter reaches MaxTries the TPM is in lockout and
// checks no such authorization until one failure is forgotten, which
// happens every Interval seconds (TPM 2.0 Part 1, 19.8.6).
type DAState struct {
	Counter  uint32 // TPM_PT_LOCKOUT_COUNTER: failures counted now
	MaxTries uint32 // TPM_PT_MAX_AUTH_FAIL: failures that lock the TPM
	Interval uint32 // TPM_PT_LOCKOUT_INTERVAL: seconds to forget one failure
	Recovery uint32 // TPM_PT_LOCKOUT_RECOVERY: seconds after a failed lockoutAuth
	// InLockout is TPMA_PERMANENT's inLockout (TPM 2.0 Part 2, 8.6).
	InLockout bool
}

// Left returns how many more authorization failures the TPM takes before
// it locks out: zero in lockout, math.MaxUint32 when its protection is off
// (an Interval of 0: the TPM counts nothing, TPM 2.0 Part 3, 25.3).
func (d DAState) Left() uint32 {
	switch {
	case d.InLockout || d.Counter >= d.MaxTries && d.Interval != 0:
		return 0
	case d.Interval == 0:
		return math.MaxUint32
	}
	return d.MaxTries - d.Counter
}

// tpmaPermanentInLockout is inLockout's bit in TPMA_PERMANENT (TPM 2.0
// Part 2, 8.6); go-tpm does not name it.
const tpmaPermanentInLockout = 1 << 9

// DictionaryAttackState reads the TPM's dictionary-attack state with
// TPM2_GetCapability(TPM_CAP_TPM_PROPERTIES) (TPM 2.0 Part 3, 30.2). It
// needs no authorization and changes nothing.
func (t *TPM) DictionaryAttackState() (DAState, error) {
	var d DAState
	err := t.do(func(l locked) error {
		for _, p := range []struct {
			pt  tpm2.TPMPT
			dst *uint32
		}{
			{tpm2.TPMPTLockoutCounter, &d.Counter},
			{tpm2.TPMPTMaxAuthFail, &d.MaxTries},
			{tpm2.TPMPTLockoutInterval, &d.Interval},
			{tpm2.TPMPTLockoutRecovery, &d.Recovery},
		} {
			v, err := l.property(p.pt)
			if err != nil {
				return fmt.Errorf("TPM property 0x%x: %w", uint32(p.pt), err)
			}
			*p.dst = v
		}
		perm, err := l.property(tpm2.TPMPTPermanent)
		if err != nil {
			return fmt.Errorf("TPM_PT_PERMANENT: %w", err)
		}
		d.InLockout = perm&tpmaPermanentInLockout != 0
		return nil
	})
	if err != nil {
		return DAState{}, fmt.Errorf("reading dictionary-attack state: %w", err)
	}
	return d, nil
}
