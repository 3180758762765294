package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/vmihailenco/msgpack/v5"
	"tep.dev/tep/p11"
	"tep.dev/tep/server/store"
	"tep.dev/tep/tpm"
)

// token is an initialised token. Its key is sealed in the TPM under each
// PIN; the database alone yields nothing without a PIN and the TPM, whose
// dictionary-attack protection counts wrong guesses. tepd counts them
// too, per PIN, and stops short of the TPM's limit (pin.go).
type token struct {
	row    store.Token
	public []byte // the key wrapping public keys' authorisations (public.go)
}

// PIN lengths accepted, in bytes (CK_TOKEN_INFO ulMinPinLen/ulMaxPinLen).
const (
	MinPINLen = 4
	MaxPINLen = 255
)

// tokenKeyLen is the size of a token's key.
const tokenKeyLen = 32

func (s *Server) loadTokens() error {
	rows, err := s.store.Tokens()
	if err != nil {
		return fmt.Errorf("loading tokens: %w", err)
	}
	for _, r := range rows {
		t := &token{row: r}
		if err := s.loadPublicKey(t); err != nil {
			return err
		}
		s.tokens[r.Slot] = t
	}
	return nil
}

// freeSlot is the slot after the last token. When the operator allows
// guests to make tokens (Config.AllowTokenInit) it holds an uninitialised
// token on which C_InitToken makes a new one; tepd init makes its token
// there either way. s.mu is held.
func (s *Server) freeSlot() uint64 {
	var last uint64
	for slot := range s.tokens {
		last = max(last, slot)
	}
	return last + 1
}

// slotKnown reports whether slot exists, and whether it holds an
// initialised token. s.mu is held.
func (s *Server) slotKnown(slot uint64) (*token, error) {
	if t := s.tokens[slot]; t != nil {
		return t, nil
	}
	if s.allowTokenInit && slot == s.freeSlot() {
		return nil, nil
	}
	return nil, p11.CKR_SLOT_ID_INVALID
}

// tokenIn returns the initialised token in slot. s.mu is held.
func (s *Server) tokenIn(slot uint64) (*token, error) {
	t, err := s.slotKnown(slot)
	if err == nil && t == nil {
		err = p11.CKR_TOKEN_NOT_RECOGNIZED
	}
	return t, err
}

// pinAuth turns a PIN into the auth value of its seal.
func pinAuth(salt, pin []byte) []byte {
	m := hmac.New(sha256.New, salt)
	m.Write(pin)
	return m.Sum(nil)
}

func checkPINLen(pin []byte) error {
	if len(pin) < MinPINLen || len(pin) > MaxPINLen {
		return p11.CKR_PIN_LEN_RANGE
	}
	return nil
}

// seal seals key under pin with a new salt; it returns salt and the seal's
// bytes for the store.
func (s *Server) seal(key, pin []byte) (salt, sealed []byte, err error) {
	if salt, err = s.tpm.GetRandom(16); err != nil {
		return nil, nil, err
	}
	sl, err := s.tpm.Seal(key, pinAuth(salt, pin))
	if err != nil {
		return nil, nil, err
	}
	sealed, err = msgpack.Marshal(&sl)
	return salt, sealed, err
}

// unseal opens a seal with pin: a wrong PIN is CKR_PIN_INCORRECT, a TPM in
// dictionary-attack lockout CKR_PIN_LOCKED.
func (s *Server) unseal(salt, sealed, pin []byte) ([]byte, error) {
	var sl tpm.Sealed
	if err := msgpack.Unmarshal(sealed, &sl); err != nil {
		return nil, fmt.Errorf("reading a stored seal: %w", err)
	}
	key, err := s.tpm.Unseal(sl, pinAuth(salt, pin))
	switch {
	case errors.Is(err, tpm.ErrLockout):
		return nil, p11.CKR_PIN_LOCKED
	case errors.Is(err, tpm.ErrAuthFail):
		return nil, p11.CKR_PIN_INCORRECT
	}
	return key, err
}

// CreateToken initialises the token in the free slot, as tepd init and
// C_InitToken on the free slot do. It returns the slot.
func (s *Server) CreateToken(label string, soPIN []byte) (uint64, error) {
	if err := checkPINLen(soPIN); err != nil {
		return 0, err
	}
	key, err := s.tpm.GetRandom(tokenKeyLen)
	if err != nil {
		return 0, err
	}
	serial, err := s.tpm.GetRandom(8)
	if err != nil {
		return 0, err
	}
	salt, sealed, err := s.seal(key, soPIN)
	clear(key)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	row := store.Token{
		Slot: s.freeSlot(), Label: strings.TrimRight(label, " "), Serial: hex.EncodeToString(serial),
		SOSalt: salt, SOSeal: sealed, Created: s.now().UTC(),
	}
	if err := s.store.AddToken(row); err != nil {
		return 0, err
	}
	t := &token{row: row}
	if err := s.loadPublicKey(t); err != nil {
		return 0, err
	}
	s.tokens[row.Slot] = t
	return row.Slot, nil
}

// SetUserPIN seals the token key of slot under the user PIN, given the SO
// PIN: tepd init's equivalent of C_Login(SO) + C_InitPIN.
func (s *Server) SetUserPIN(slot uint64, soPIN, userPIN []byte) error {
	key, err := s.checkPIN(slot, true, soPIN)
	if err != nil {
		return err
	}
	defer clear(key)
	return s.putPIN(slot, key, userPIN, false)
}

// putPIN seals key under pin as the user's PIN, or the SO's, of slot. A
// new PIN starts with no failures: C_InitPIN is how the SO unlocks a
// locked user PIN.
func (s *Server) putPIN(slot uint64, key, pin []byte, so bool) error {
	if err := checkPINLen(pin); err != nil {
		return err
	}
	// Not while a PIN check counts: its count is of the old PIN.
	s.pinMu.Lock()
	defer s.pinMu.Unlock()
	salt, sealed, err := s.seal(key, pin)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.tokenIn(slot)
	if err != nil {
		return err
	}
	row := t.row
	if so {
		row.SOSalt, row.SOSeal = salt, sealed
	} else {
		row.UserSalt, row.UserSeal = salt, sealed
	}
	if err := s.store.UpdateToken(row); err != nil { // in place: the objects stay
		return err
	}
	if err := s.store.SetPINFailures(slot, so, 0); err != nil {
		return err
	}
	setFails(&row, so, 0)
	t.row = row
	return nil
}
