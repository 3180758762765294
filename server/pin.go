package server

import (
	"errors"
	"fmt"

	"tep.dev/tep/p11"
	"tep.dev/tep/server/store"
)

// PIN tries: how many wrong PINs in a row lock a PIN (the README's
// "Security notes" say why 3). A token's own number, set at tepd init,
// is stored in its row.
const (
	DefaultPINTries = 3
	MaxPINTries     = 100
)

// tries is how many wrong PINs in a row lock a PIN of a token whose row
// says pinTries.
func tries(pinTries int) int {
	if pinTries <= 0 {
		return DefaultPINTries
	}
	return pinTries
}

// pinFlags are the CK_TOKEN_INFO flags of one PIN that has failed fails
// times of n: COUNT_LOW once it has failed, FINAL_TRY when one try is
// left, LOCKED when none is (PKCS#11 v2.40, CK_TOKEN_INFO). lowF, finalF
// and lockedF are the user's flags or the SO's.
func pinFlags(fails, n int, lowF, finalF, lockedF uint64) uint64 {
	var f uint64
	switch {
	case fails >= n:
		return lockedF
	case fails > 0:
		f |= lowF
	}
	if fails == n-1 {
		f |= finalF
	}
	return f
}

// checkPIN opens the seal of the SO's PIN (so) or the user's of the token
// in slot with pin, and returns the token key. It applies the PIN policy:
//   - a PIN that has failed its tries is CKR_PIN_LOCKED, and the TPM is
//     not asked;
//   - when one more wrong PIN could put the TPM in dictionary-attack
//     lockout, which every user of the TPM shares, the PIN is not tried
//     either: CKR_PIN_LOCKED, for now (see daBudget);
//   - the try is counted in the store before the TPM sees it, so that no
//     crash or lost reply gives a free guess; a right PIN resets the count.
//
// PIN checks run one at a time (s.pinMu), so that the TPM's budget read
// before a try still holds when the try is made, as far as tepd goes.
func (s *Server) checkPIN(slot uint64, so bool, pin []byte) ([]byte, error) {
	s.pinMu.Lock()
	defer s.pinMu.Unlock()
	s.mu.Lock()
	t, err := s.tokenIn(slot)
	var salt, sealed []byte
	var fails, n int
	if err == nil {
		salt, sealed, fails = t.row.UserSalt, t.row.UserSeal, t.row.UserPINFails
		if so {
			salt, sealed, fails = t.row.SOSalt, t.row.SOSeal, t.row.SOPINFails
		}
		n = tries(t.row.PINTries)
	}
	s.mu.Unlock()
	switch {
	case err != nil:
		return nil, err
	case sealed == nil:
		return nil, p11.CKR_USER_PIN_NOT_INITIALIZED
	case fails >= n:
		return nil, p11.CKR_PIN_LOCKED
	}
	if err := s.daBudget(); err != nil {
		return nil, err
	}
	if err := s.store.SetPINFailures(slot, so, fails+1); err != nil {
		return nil, fmt.Errorf("counting a PIN try: %w", err)
	}
	key, err := s.unseal(salt, sealed, pin)
	switch {
	case err == nil:
		if err := s.setPINFailures(slot, so, 0); err != nil {
			clear(key)
			return nil, err
		}
		return key, nil
	case errors.Is(err, p11.CKR_PIN_INCORRECT):
		s.mu.Lock()
		setFails(&t.row, so, fails+1)
		s.mu.Unlock()
		if fails+1 >= n {
			s.log.Warn("PIN locked after too many wrong PINs", "slot", slot, "so", so, "tries", n)
		}
		return nil, err
	}
	// Not a wrong PIN: the try does not count.
	if rerr := s.store.SetPINFailures(slot, so, fails); rerr != nil {
		s.log.Error("restoring a PIN count", "slot", slot, "err", rerr)
	}
	if errors.Is(err, p11.CKR_PIN_LOCKED) {
		s.log.Warn("the TPM is in dictionary-attack lockout: no PIN can be checked until it recovers or its lockout is reset", "slot", slot)
	}
	return nil, err
}

// daBudget refuses a PIN check when one more authorization failure could
// put the TPM in dictionary-attack lockout: tepd is then never the one
// that locks the TPM (and LUKS, and the other tokens, and landed-version
// keys) out. The answer is CKR_PIN_LOCKED, PKCS#11's closest to "try
// later" (PKCS#11 v2.40, C_Login): the token flags do not show a lock,
// because the TPM forgets one failure every lockout interval.
func (s *Server) daBudget() error {
	d, err := s.tpm.DictionaryAttackState()
	if err != nil {
		return err
	}
	if d.Left() > 1 {
		return nil
	}
	s.log.Warn("refusing to check a PIN: one more wrong PIN could put the TPM in dictionary-attack lockout; "+
		"the TPM forgets one failure every lockout interval",
		"counter", d.Counter, "max_tries", d.MaxTries, "interval_s", d.Interval, "in_lockout", d.InLockout)
	return p11.CKR_PIN_LOCKED
}

// setPINFailures stores and records a count of wrong PINs.
func (s *Server) setPINFailures(slot uint64, so bool, n int) error {
	if err := s.store.SetPINFailures(slot, so, n); err != nil {
		return fmt.Errorf("storing a PIN count: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tokens[slot]; t != nil {
		setFails(&t.row, so, n)
	}
	return nil
}

// setFails records a count in a token's row. s.mu is held if the row is
// a token's.
func setFails(row *store.Token, so bool, n int) {
	if so {
		row.SOPINFails = n
	} else {
		row.UserPINFails = n
	}
}

// SetPINTries sets how many wrong PINs in a row lock a PIN of the token in
// slot (1 to MaxPINTries): tepd init --pin-tries.
func (s *Server) SetPINTries(slot uint64, n int) error {
	if n < 1 || n > MaxPINTries {
		return fmt.Errorf("PIN tries %d out of range 1-%d", n, MaxPINTries)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.tokenIn(slot)
	if err != nil {
		return err
	}
	if err := s.store.SetPINTries(slot, n); err != nil {
		return fmt.Errorf("storing PIN tries: %w", err)
	}
	t.row.PINTries = n
	return nil
}
