package tpm

import (
	"encoding/binary"
	"fmt"

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
