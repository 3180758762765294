package server

import (
	"fmt"

	"github.com/vmihailenco/msgpack/v5"

	"tep.dev/tep/p11"
	"tep.dev/tep/tpm"
)

// Keys usable without a login. PKCS#11 lets a key be a public object
// (CKA_PRIVATE=FALSE): any session of the token may use it, logged in or
// not. Each key's TPM authorisation is wrapped by a token key; that of a
// private key by the key the user's PIN unseals, that of a public key by
// the token's public key, which the TPM seals with no PIN and outside
// dictionary-attack protection (tpm.SealNoDA) and which tepd unseals at
// start and keeps. So anyone who can reach the port, on the guest or
// beside it, can use such a key: sign, decrypt, encrypt with it, as the
// template asked. Its material still never leaves the TPM, and its record
// is stored in clear, like every public object. Keys are private unless
// their template says otherwise.

// loadPublicKey unseals the public key of t, making and storing it first
// for a token that has none (one made before such keys existed).
func (s *Server) loadPublicKey(t *token) error {
	if len(t.row.PublicSeal) == 0 {
		key, err := s.tpm.GetRandom(tokenKeyLen)
		if err != nil {
			return fmt.Errorf("drawing the public key of token %d: %w", t.row.Slot, err)
		}
		sl, err := s.tpm.SealNoDA(key)
		clear(key)
		if err != nil {
			return fmt.Errorf("sealing the public key of token %d: %w", t.row.Slot, err)
		}
		sealed, err := msgpack.Marshal(&sl)
		if err != nil {
			return err
		}
		if err := s.store.SetPublicSeal(t.row.Slot, sealed); err != nil {
			return fmt.Errorf("storing the public key of token %d: %w", t.row.Slot, err)
		}
		t.row.PublicSeal = sealed
	}
	var sl tpm.Sealed
	if err := msgpack.Unmarshal(t.row.PublicSeal, &sl); err != nil {
		return fmt.Errorf("reading the public key of token %d: %w", t.row.Slot, err)
	}
	key, err := s.tpm.Unseal(sl, nil)
	if err != nil {
		return fmt.Errorf("unsealing the public key of token %d: %w", t.row.Slot, err)
	}
	t.public = key
	return nil
}

// templatePrivate says whether a key template makes a private key: unless
// it sets CKA_PRIVATE to false, it does.
func templatePrivate(tmpl []p11.Attribute) bool {
	for _, a := range tmpl {
		if a.Type == p11.CKA_PRIVATE && len(a.Value) == 1 && a.Value[0] == 0 {
			return false
		}
	}
	return true
}

// authKey returns c's session h and the key that is to wrap the
// authorisation of a new key: the user's token key for a private key,
// which needs the user's login, and the token's public key for a public
// one, which needs none. s.mu is held.
func (s *Server) authKey(c *client, h uint64, private bool) (*session, []byte, error) {
	if private {
		return s.userSession(c, h)
	}
	sess, err := s.sessionOf(c, h)
	if err != nil {
		return nil, nil, err
	}
	t, err := s.tokenIn(sess.slot)
	if err != nil {
		return nil, nil, err
	}
	return sess, t.public, nil
}

// keyAuth opens the authorisation of key object o for a call on sess. A
// public key made before public keys were wrapped apart has its
// authorisation under the user's key, and needs the login. s.mu is held.
func (s *Server) keyAuth(c *client, sess *session, o *object) ([]byte, error) {
	if !o.bool(p11.CKA_PRIVATE) {
		if t := s.tokens[sess.slot]; t != nil && t.public != nil {
			if auth, err := unwrapAuth(t.public, o.key.Auth); err == nil {
				return auth, nil
			}
		}
	}
	l, ok := c.login[sess.slot]
	if !ok || l.user != p11.CKU_USER {
		return nil, p11.CKR_USER_NOT_LOGGED_IN
	}
	return unwrapAuth(l.key, o.key.Auth)
}
