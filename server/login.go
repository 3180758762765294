package server

import (
	"strings"

	"tep.dev/tep/p11"
)

func (s *Server) initToken(c *client, req *p11.InitTokenReq) (p11.Resp, error) {
	if err := checkPINLen(req.SOPIN); err != nil {
		return nil, err
	}
	s.mu.Lock()
	t, err := s.slotKnown(req.Slot)
	if err == nil && t != nil {
		// Re-initialising an existing token needs its SO PIN and no
		// session open on it, by anyone.
		for _, sess := range s.sessions {
			if sess.slot == req.Slot {
				err = p11.CKR_SESSION_EXISTS
			}
		}
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if t == nil {
		_, err := s.CreateToken(req.Label, req.SOPIN)
		return &p11.RVResp{}, err
	}
	key, err := s.checkPIN(req.Slot, true, req.SOPIN)
	if err != nil {
		return nil, err
	}
	s.pinMu.Lock() // the user's count is reset below
	defer s.pinMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	row := t.row
	row.Label = strings.TrimRight(req.Label, " ")
	row.UserSalt, row.UserSeal = nil, nil
	if err := s.store.ResetToken(row); err != nil { // and its objects
		return nil, err
	}
	// The user PIN is gone, and its count with it.
	if err := s.store.SetPINFailures(req.Slot, false, 0); err != nil {
		return nil, err
	}
	row.UserPINFails = 0
	t.row = row
	for _, o := range s.objects {
		if o.slot == req.Slot {
			s.removeObject(o)
		}
	}
	clear(key)
	return &p11.RVResp{}, nil
}

func (s *Server) login(c *client, req *p11.LoginReq) (p11.Resp, error) {
	s.mu.Lock()
	t, err := s.loginCheck(c, *req)
	var slot uint64
	if err == nil {
		slot = t.row.Slot
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	key, err := s.checkPIN(slot, req.UserType == p11.CKU_SO, req.PIN)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, err := s.sessionOf(c, req.Session)
	if err != nil { // closed while the TPM worked
		return nil, err
	}
	c.login[sess.slot] = login{user: req.UserType, key: key}
	s.unlockObjects(sess.slot, key)
	return &p11.RVResp{}, nil
}

// loginCheck applies C_Login's rules before the PIN is tried. s.mu is held.
func (s *Server) loginCheck(c *client, req p11.LoginReq) (*token, error) {
	sess, err := s.sessionOf(c, req.Session)
	if err != nil {
		return nil, err
	}
	t, err := s.tokenIn(sess.slot)
	if err != nil {
		return nil, err
	}
	switch req.UserType {
	case p11.CKU_SO, p11.CKU_USER:
	case p11.CKU_CONTEXT_SPECIFIC:
		return nil, p11.CKR_OPERATION_NOT_INITIALIZED
	default:
		return nil, p11.CKR_USER_TYPE_INVALID
	}
	if l, ok := c.login[sess.slot]; ok {
		if l.user == req.UserType {
			return nil, p11.CKR_USER_ALREADY_LOGGED_IN
		}
		return nil, p11.CKR_USER_ANOTHER_ALREADY_LOGGED_IN
	}
	if req.UserType == p11.CKU_SO {
		for _, other := range c.sessions {
			if other.slot == sess.slot && !other.rw {
				return nil, p11.CKR_SESSION_READ_ONLY_EXISTS
			}
		}
	} else if t.row.UserSeal == nil {
		return nil, p11.CKR_USER_PIN_NOT_INITIALIZED
	}
	if len(req.PIN) == 0 || len(req.PIN) > MaxPINLen {
		return nil, p11.CKR_PIN_INCORRECT
	}
	return t, nil
}

func (s *Server) logout(c *client, sess *session, req *p11.SessionReq) (p11.Resp, error) {
	if _, ok := c.login[sess.slot]; !ok {
		return nil, p11.CKR_USER_NOT_LOGGED_IN
	}
	s.endLogin(c, sess.slot)
	return &p11.RVResp{}, nil
}

func (s *Server) initPIN(c *client, req *p11.InitPINReq) (p11.Resp, error) {
	s.mu.Lock()
	sess, err := s.sessionOf(c, req.Session)
	var l login
	if err == nil {
		var ok bool
		if l, ok = c.login[sess.slot]; !ok || l.user != p11.CKU_SO || !sess.rw {
			err = p11.CKR_USER_NOT_LOGGED_IN
		}
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return &p11.RVResp{}, s.putPIN(sess.slot, l.key, req.PIN, false)
}

func (s *Server) setPIN(c *client, req *p11.SetPINReq) (p11.Resp, error) {
	s.mu.Lock()
	sess, err := s.sessionOf(c, req.Session)
	if err == nil {
		_, err = s.tokenIn(sess.slot)
	}
	if err == nil && !sess.rw {
		err = p11.CKR_SESSION_READ_ONLY
	}
	l, loggedIn := login{}, false
	if err == nil {
		l, loggedIn = c.login[sess.slot]
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := checkPINLen(req.New); err != nil {
		return nil, err
	}
	// The SO changes the SO PIN; the user, or a public session, the
	// user PIN. Either way the old PIN must open the old seal, and a
	// wrong one counts as a failed login (PKCS#11 v2.40, C_SetPIN).
	so := loggedIn && l.user == p11.CKU_SO
	if len(req.Old) == 0 || len(req.Old) > MaxPINLen {
		return nil, p11.CKR_PIN_INCORRECT
	}
	key, err := s.checkPIN(sess.slot, so, req.Old)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	return &p11.RVResp{}, s.putPIN(sess.slot, key, req.New, so)
}
