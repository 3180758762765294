package server

import (
	"fmt"
	"slices"

	"tep.dev/tep/p11"
)

// findOp is a search in progress on a session: a cursor, not a copy of
// the handles found, so that an open search costs its template and no
// more. Objects are found in the order of their handles; one created
// during the search may or may not be found, as PKCS#11 v2.40 allows
// (C_FindObjectsInit).
type findOp struct {
	tmpl []p11.Attribute
	next uint64 // the least handle still to be looked at
	size int64  // charged to the client (templateSize)
}

// loadObjects loads the token objects stored in clear. Sealed (private)
// ones wait for a login to open them (unlockObjects).
func (s *Server) loadObjects() error {
	s.unlocked = map[uint64]bool{}
	rows, err := s.store.Objects()
	if err != nil {
		return fmt.Errorf("loading objects: %w", err)
	}
	for _, r := range rows {
		if r.Private {
			continue
		}
		attrs, err := decodeAttrs(r.Attrs)
		if err != nil {
			return fmt.Errorf("object %d: %w", r.ID, err)
		}
		key, err := decodeKeyRef(r.Key)
		if err != nil {
			return fmt.Errorf("object %d: %w", r.ID, err)
		}
		s.addObject(&object{id: r.ID, slot: r.Slot, attrs: attrs, key: key})
	}
	return nil
}

// addObject gives o a handle and counts it in the usage (put checked the
// limits). s.mu is held (or the server is starting).
func (s *Server) addObject(o *object) uint64 {
	s.nextObj++
	o.handle = s.nextObj
	s.objects[o.handle] = o
	if o.session == 0 {
		s.charge(nil, true, 1, int64(o.size()))
		return o.handle
	}
	c := s.clients[o.client]
	s.charge(c, false, 1, int64(o.size()))
	if sess := s.sessions[o.session]; sess != nil {
		if sess.objects == nil {
			sess.objects = map[uint64]*object{}
		}
		sess.objects[o.handle] = o
	}
	return o.handle
}

// removeObject forgets o and refunds what it held. s.mu is held.
func (s *Server) removeObject(o *object) {
	if s.objects[o.handle] != o {
		return
	}
	delete(s.objects, o.handle)
	if o.session == 0 {
		s.charge(nil, true, -1, -int64(o.size()))
		return
	}
	s.charge(s.clients[o.client], false, -1, -int64(o.size()))
	if sess := s.sessions[o.session]; sess != nil {
		delete(sess.objects, o.handle)
	}
}

// loggedInUser reports whether c is logged in as the user on slot.
func loggedInUser(c *client, slot uint64) bool {
	l, ok := c.login[slot]
	return ok && l.user == p11.CKU_USER
}

// objectOf returns object h as session sess of c sees it: of the
// session's token, its own if a session object, and private ones only
// after the user logged in. Anything else is an invalid handle. s.mu is
// held.
func (s *Server) objectOf(c *client, sess *session, h uint64) (*object, error) {
	o := s.objects[h]
	if o == nil || o.slot != sess.slot || (o.session != 0 && o.client != c.id) ||
		(o.bool(p11.CKA_PRIVATE) && !loggedInUser(c, sess.slot)) {
		return nil, p11.CKR_OBJECT_HANDLE_INVALID
	}
	return o, nil
}

// mayHold checks that sess may hold an object with attrs: a token object
// needs a read/write session, a private one the user's login.
func mayHold(c *client, sess *session, attrs map[uint64][]byte) error {
	o := object{attrs: attrs}
	if o.bool(p11.CKA_TOKEN) && !sess.rw {
		return p11.CKR_SESSION_READ_ONLY
	}
	if o.bool(p11.CKA_PRIVATE) && !loggedInUser(c, sess.slot) {
		return p11.CKR_USER_NOT_LOGGED_IN
	}
	return nil
}

// putNew puts attrs, with the TPM key ref (or nil), into a new
// object on c's session h, which it finds again under s.mu: the key was
// made without the lock, and the session may have closed meanwhile.
func (s *Server) putNew(c *client, h uint64, attrs map[uint64][]byte, ref *keyRef) (p11.Resp, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, err := s.sessionOf(c, h)
	if err != nil {
		return nil, err
	}
	if err := mayHold(c, sess, attrs); err != nil {
		return nil, err
	}
	o, err := s.put(c, sess, attrs, ref)
	return &p11.ObjectResp{Object: o}, err
}

// put records a new object for sess: in the store if it is a token
// object, else as the session's own. s.mu is held.
func (s *Server) put(c *client, sess *session, attrs map[uint64][]byte, key *keyRef) (uint64, error) {
	o := &object{slot: sess.slot, attrs: attrs, key: key}
	token := o.bool(p11.CKA_TOKEN)
	if !token {
		o.client, o.session = c.id, sess.handle
	}
	if err := s.roomFor(c, o, true, int64(o.size())); err != nil {
		return 0, err
	}
	if token {
		if err := s.persist(o, c.login[sess.slot].key); err != nil {
			return 0, err
		}
	}
	return s.addObject(o), nil
}

// unput takes back an object that put made: from the store too if it is a
// token object. s.mu is held.
func (s *Server) unput(h uint64) {
	o := s.objects[h]
	if o == nil {
		return
	}
	if o.id != 0 {
		if err := s.store.DeleteObject(o.id); err != nil {
			s.log.Error("taking back a token object", "err", err)
		}
	}
	s.removeObject(o)
}

func (s *Server) createObject(c *client, req *p11.TemplateReq) (p11.Resp, error) {
	if class := templateClass(req.Template); class == p11.CKO_PRIVATE_KEY || class == p11.CKO_SECRET_KEY {
		return s.createKey(c, *req, class)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, err := s.sessionOf(c, req.Session)
	if err != nil {
		return nil, err
	}
	attrs, err := newAttrs(req.Template)
	if err != nil {
		return nil, err
	}
	if err := mayHold(c, sess, attrs); err != nil {
		return nil, err
	}
	h, err := s.put(c, sess, attrs, nil)
	return &p11.ObjectResp{Object: h}, err
}

// templateClass is the CKA_CLASS a template names (CK_UNAVAILABLE_INFORMATION
// when it names none).
func templateClass(tmpl []p11.Attribute) uint64 {
	for _, a := range tmpl {
		if a.Type == p11.CKA_CLASS {
			if v, err := p11.AsUlong(a.Value); err == nil {
				return v
			}
		}
	}
	return p11.CK_UNAVAILABLE_INFORMATION
}

// createKey is C_CreateObject of a private or secret key: an import into
// the TPM, whose authorisation the user's login wraps.
func (s *Server) createKey(c *client, req p11.TemplateReq, class uint64) (p11.Resp, error) {
	s.mu.Lock()
	sess, tokenKey, err := s.authKey(c, req.Session, templatePrivate(req.Template))
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	attrs, ref, err := s.importKey(sess.slot, class, req.Template, tokenKey)
	if err != nil {
		return nil, err
	}
	return s.putNew(c, req.Session, attrs, ref)
}

// persist writes token object o to the store (a new row when o.id is 0),
// a private one sealed under tokenKey. s.mu is held.
func (s *Server) persist(o *object, tokenKey []byte) error {
	id, err := s.store.PutObject(o.id, storedRow(o, tokenKey))
	if err != nil {
		return err
	}
	o.id = id
	return nil
}

func (s *Server) copyObject(c *client, req *p11.TemplateReq) (p11.Resp, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, o, err := s.sessionObject(c, req.Session, req.Object)
	if err != nil {
		return nil, err
	}
	if !o.bool(p11.CKA_COPYABLE) {
		return nil, p11.CKR_ACTION_PROHIBITED
	}
	attrs, err := changeAttrs(o.attrs, req.Template, true)
	if err != nil {
		return nil, err
	}
	priv, copyPriv := o.bool(p11.CKA_PRIVATE), (&object{attrs: attrs}).bool(p11.CKA_PRIVATE)
	switch {
	case o.key != nil && copyPriv != priv:
		// The copy shares the key's authorisation, wrapped by the token
		// key of the original's kind (public.go).
		return nil, p11.CKR_ATTRIBUTE_READ_ONLY
	case priv && !copyPriv:
		// A public copy would put a private value in clear on disk, which
		// C_SetAttributeValue refuses too; PKCS#11 v2.40, C_CopyObject,
		// lets CKA_PRIVATE change only as the object's policy permits.
		return nil, p11.CKR_ATTRIBUTE_READ_ONLY
	}
	if err := mayHold(c, sess, attrs); err != nil {
		return nil, err
	}
	h, err := s.put(c, sess, attrs, o.key)
	return &p11.ObjectResp{Object: h}, err
}

// sessionObject resolves a session and an object of it. s.mu is held.
func (s *Server) sessionObject(c *client, sh, oh uint64) (*session, *object, error) {
	sess, err := s.sessionOf(c, sh)
	if err != nil {
		return nil, nil, err
	}
	o, err := s.objectOf(c, sess, oh)
	return sess, o, err
}

func (s *Server) destroyObject(c *client, req *p11.ObjectReq) (p11.Resp, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, o, err := s.sessionObject(c, req.Session, req.Object)
	if err != nil {
		return nil, err
	}
	if !o.bool(p11.CKA_DESTROYABLE) {
		return nil, p11.CKR_ACTION_PROHIBITED
	}
	if o.id != 0 {
		if !sess.rw {
			return nil, p11.CKR_SESSION_READ_ONLY
		}
		if err := s.store.DeleteObject(o.id); err != nil {
			return nil, err
		}
	}
	s.removeObject(o)
	return &p11.RVResp{}, nil
}

func (s *Server) getObjectSize(c *client, req *p11.ObjectReq) (p11.Resp, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, o, err := s.sessionObject(c, req.Session, req.Object)
	if err != nil {
		return nil, err
	}
	return &p11.ObjectResp{Object: o.size()}, nil
}

func (s *Server) getAttributeValue(c *client, req *p11.GetAttrReq) (p11.Resp, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, o, err := s.sessionObject(c, req.Session, req.Object)
	if err != nil {
		return nil, err
	}
	class, keyType := o.ulong(p11.CKA_CLASS), o.ulong(p11.CKA_KEY_TYPE)
	r := &p11.GetAttrResp{Values: make([]p11.AttrValue, len(req.Types))}
	for i, t := range req.Types {
		v, ok := o.attrs[t]
		rl, _ := rule(class, keyType, t)
		switch {
		case rl == ruleSensitive:
			r.Values[i].Status = p11.AttrSensitive
			r.RV = p11.CKR_ATTRIBUTE_SENSITIVE
		case !ok:
			r.Values[i].Status = p11.AttrInvalid
			r.RV = p11.CKR_ATTRIBUTE_TYPE_INVALID
		default:
			r.Values[i].Value = v
		}
	}
	return r, nil
}

func (s *Server) setAttributeValue(c *client, req *p11.TemplateReq) (p11.Resp, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, o, err := s.sessionObject(c, req.Session, req.Object)
	if err != nil {
		return nil, err
	}
	if !o.bool(p11.CKA_MODIFIABLE) {
		return nil, p11.CKR_ACTION_PROHIBITED
	}
	if o.id != 0 && !sess.rw {
		return nil, p11.CKR_SESSION_READ_ONLY
	}
	attrs, err := changeAttrs(o.attrs, req.Template, false)
	if err != nil {
		return nil, err
	}
	grow, err := s.growth(c, o, attrs)
	if err != nil {
		return nil, err
	}
	if o.id != 0 {
		changed := *o
		changed.attrs = attrs
		if err := s.persist(&changed, c.login[sess.slot].key); err != nil {
			return nil, err
		}
	}
	s.charge(c, o.session == 0, 0, grow)
	o.attrs = attrs
	return &p11.RVResp{}, nil
}

func (s *Server) findObjectsInit(c *client, sess *session, req *p11.TemplateReq) (p11.Resp, error) {
	if sess.find != nil {
		return nil, p11.CKR_OPERATION_ACTIVE
	}
	for _, a := range req.Template {
		if err := checkValue(a); err != nil {
			return nil, err
		}
	}
	return &p11.RVResp{}, s.startFind(c, sess, req.Template)
}

func (s *Server) findObjects(c *client, sess *session, req *p11.FindReq) (p11.Resp, error) {
	if sess.find == nil {
		return nil, p11.CKR_OPERATION_NOT_INITIALIZED
	}
	return &p11.FindResp{Objects: s.findNext(c, sess, req.Max)}, nil
}

func (s *Server) findObjectsFinal(c *client, sess *session, req *p11.SessionReq) (p11.Resp, error) {
	if sess.find == nil {
		return nil, p11.CKR_OPERATION_NOT_INITIALIZED
	}
	s.endFind(c, sess)
	return &p11.RVResp{}, nil
}

// startFind opens a search on sess for tmpl, its template charged to c.
// s.mu is held.
func (s *Server) startFind(c *client, sess *session, tmpl []p11.Attribute) error {
	size := templateSize(tmpl)
	if err := s.roomForBytes(c, size); err != nil {
		return err
	}
	s.charge(c, false, 0, size)
	sess.find = &findOp{tmpl: tmpl, next: 1, size: size}
	return nil
}

// findNext returns up to max more handles of sess's search, in order.
// Each call looks at every object once: the objects are bounded
// (Limits), the handles of a search are not copied. s.mu is held.
func (s *Server) findNext(c *client, sess *session, max uint64) []uint64 {
	op := sess.find
	var found []uint64
	for h, o := range s.objects {
		if h < op.next || !o.matches(op.tmpl) {
			continue
		}
		if _, err := s.objectOf(c, sess, h); err == nil {
			found = append(found, h)
		}
	}
	slices.Sort(found)
	found = found[:min(uint64(len(found)), max)]
	if len(found) > 0 {
		op.next = found[len(found)-1] + 1
	}
	return found
}

// endFind ends sess's search, if any, and refunds its template. s.mu is
// held.
func (s *Server) endFind(c *client, sess *session) {
	if sess.find != nil {
		s.charge(c, false, 0, -sess.find.size)
		sess.find = nil
	}
}
