package server

import (
	"errors"
	"sync"
	"time"

	"tep.dev/tep/channel"
	"tep.dev/tep/p11"
	"tep.dev/tep/tpm"
)

// client is one guest process: its logins, per token, and the key a login
// unsealed. Sessions live in Server.sessions, which finds them by handle,
// and in their client's sessions, which closes them without a look at
// anyone else's.
type client struct {
	id       uint64
	lastSeen time.Time
	called   bool             // it made a call since its handshake
	login    map[uint64]login // by slot; absent: public
	sessions map[uint64]*session
	slots    map[uint64]int // its sessions per slot
	objects  int            // its session objects
	bytes    int64          // its session objects' and searches' bytes
	port     *bucket        // the port its handshake came through

	// ch guards keys: a client's calls are serial, but frames that
	// claim its id may arrive on any port at once.
	ch   sync.Mutex
	keys *channel.Keys
}

// login is a client's login on one token.
type login struct {
	user uint64 // CKU_USER or CKU_SO
	key  []byte // the token key its PIN unsealed
}

// session is an open PKCS#11 session.
type session struct {
	handle  uint64
	client  uint64
	slot    uint64
	rw      bool
	digest  *digestOp
	find    *findOp
	verify  *verifyOp
	sign    *signOp
	encrypt *cryptOp
	decrypt *cryptOp
	objects map[uint64]*object // its session objects, by handle
}

// dropClient forgets a client, its channel with it, and closes its
// sessions. s.mu is held.
func (s *Server) dropClient(c *client) {
	s.resetClient(c)
	delete(s.clients, c.id)
	c.port.clients--
}

// resetClient closes a client's sessions and ends its logins; its channel
// stays. s.mu is held.
func (s *Server) resetClient(c *client) {
	for _, sess := range c.sessions {
		s.removeSession(c, sess)
	}
	for slot := range c.login {
		s.endLogin(c, slot)
	}
}

// reap drops clients that have been silent longer than the lease: their
// process died without C_Finalize.
func (s *Server) reap() {
	defer s.done.Done()
	t := time.NewTicker(min(s.lease/4, s.limits.Silent/2))
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.reapOnce()
		}
	}
}

func (s *Server) reapOnce() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reapLocked()
}

// reapLocked drops the clients whose lease ran out, and those that made
// no call for the silent time after their handshake. They are counted in
// the summary, not logged one by one. s.mu is held.
func (s *Server) reapLocked() {
	now := s.now()
	cutoff, silent := now.Add(-s.lease), now.Add(-s.limits.Silent)
	for _, c := range s.clients {
		switch {
		case c.lastSeen.Before(cutoff):
			s.count(reaped)
		case !c.called && c.lastSeen.Before(silent):
			s.count(reapedSilent)
		default:
			continue
		}
		s.dropClient(c)
	}
}

// Clients reports how many clients the server holds state for.
func (s *Server) Clients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.clients)
}

func (s *Server) hello(c *client, req *p11.HelloReq) (p11.Resp, error) {
	s.mu.Lock()
	s.resetClient(c) // a process that initialises again starts afresh
	s.mu.Unlock()
	s.log.Debug("client registered", "client", c.id, "pid", req.PID)
	return &p11.HelloResp{LeaseMs: s.lease.Milliseconds()}, nil
}

func (s *Server) goodbye(c *client, _ uint16, _ []byte) (p11.Resp, error) {
	s.mu.Lock()
	s.dropClient(c)
	s.mu.Unlock()
	return &p11.RVResp{}, nil
}

// sessionOf returns c's session h. Another client's handle is as invalid
// as one that never existed. s.mu is held.
func (s *Server) sessionOf(c *client, h uint64) (*session, error) {
	sess := s.sessions[h]
	if sess == nil || sess.client != c.id {
		return nil, p11.CKR_SESSION_HANDLE_INVALID
	}
	return sess, nil
}

// checkSession answers CKR_SESSION_HANDLE_INVALID for a handle that is
// not one of c's sessions, for the handlers that would otherwise look at
// another argument first: the session is reported before the mechanism.
func (s *Server) checkSession(c *client, h uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.sessionOf(c, h)
	return err
}

func (s *Server) openSession(c *client, req *p11.OpenSessionReq) (p11.Resp, error) {
	if req.Flags&p11.CKF_SERIAL_SESSION == 0 {
		return nil, p11.CKR_SESSION_PARALLEL_NOT_SUPPORTED
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.tokenIn(req.Slot); err != nil {
		return nil, err
	}
	rw := req.Flags&p11.CKF_RW_SESSION != 0
	if l, ok := c.login[req.Slot]; ok && !rw && l.user == p11.CKU_SO {
		return nil, p11.CKR_SESSION_READ_WRITE_SO_EXISTS
	}
	if err := s.roomForSession(c); err != nil {
		return nil, err
	}
	s.nextSess++
	h := s.nextSess
	sess := &session{handle: h, client: c.id, slot: req.Slot, rw: rw}
	s.sessions[h] = sess
	c.sessions[h] = sess
	c.slots[req.Slot]++
	s.use.sessions++
	return &p11.OpenSessionResp{Session: h}, nil
}

func (s *Server) closeSession(c *client, sess *session, req *p11.SessionReq) (p11.Resp, error) {
	s.removeSession(c, sess)
	s.logoutIfLast(c, sess.slot)
	return &p11.RVResp{}, nil
}

func (s *Server) closeAllSessions(c *client, req *p11.SlotReq) (p11.Resp, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.slotKnown(req.Slot); err != nil {
		return nil, err
	}
	for _, sess := range c.sessions {
		if sess.slot == req.Slot {
			s.removeSession(c, sess)
		}
	}
	s.logoutIfLast(c, req.Slot)
	return &p11.RVResp{}, nil
}

// logoutIfLast ends c's login on slot when its last session there closed,
// as PKCS#11 wants. s.mu is held.
func (s *Server) logoutIfLast(c *client, slot uint64) {
	if c.slots[slot] == 0 {
		s.endLogin(c, slot)
	}
}

// removeSession closes session sess of c: its objects and its search go,
// and what they held is refunded. s.mu is held.
func (s *Server) removeSession(c *client, sess *session) {
	for _, o := range sess.objects {
		s.removeObject(o)
	}
	s.endFind(c, sess)
	delete(s.sessions, sess.handle)
	delete(c.sessions, sess.handle)
	if c.slots[sess.slot]--; c.slots[sess.slot] <= 0 {
		delete(c.slots, sess.slot)
	}
	s.use.sessions--
}

// endLogin ends c's login on slot. Once no client is logged in anywhere,
// the TPM unloads the keys it keeps loaded and closes their sessions: a
// session kept open for a key authorizes it without the key's auth value,
// and with nobody logged in no key may be used. s.mu is held; the flush,
// which may wait behind a long TPM command, runs on its own.
func (s *Server) endLogin(c *client, slot uint64) {
	c.logout(slot)
	for _, other := range s.clients {
		if len(other.login) > 0 {
			return
		}
	}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		if err := s.tpm.FlushKeys(); err != nil && !errors.Is(err, tpm.ErrClosed) {
			s.log.Warn("flushing the TPM's keys after the last logout", "err", err)
		}
	}()
}

// logout ends c's login on slot and wipes the token key it held.
func (c *client) logout(slot uint64) {
	if l, ok := c.login[slot]; ok {
		clear(l.key)
		delete(c.login, slot)
	}
}

func (s *Server) sessionInfo(c *client, sess *session, req *p11.SessionReq) (p11.Resp, error) {
	flags := uint64(p11.CKF_SERIAL_SESSION)
	if sess.rw {
		flags |= p11.CKF_RW_SESSION
	}
	l, loggedIn := c.login[sess.slot]
	return &p11.SessionInfoResp{Slot: sess.slot, State: sessionState(sess.rw, l.user, loggedIn), Flags: flags}, nil
}

// sessionState is the CKS_ value of a session.
func sessionState(rw bool, user uint64, loggedIn bool) uint64 {
	switch {
	case loggedIn && user == p11.CKU_SO:
		return p11.CKS_RW_SO_FUNCTIONS
	case loggedIn && rw:
		return p11.CKS_RW_USER_FUNCTIONS
	case loggedIn:
		return p11.CKS_RO_USER_FUNCTIONS
	case rw:
		return p11.CKS_RW_PUBLIC_SESSION
	}
	return p11.CKS_RO_PUBLIC_SESSION
}
