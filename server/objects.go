package server

import (
	"fmt"
	"slices"

	"tep.dev/tep/p11"
)

// findOp is a search in progress on a session.
type findOp struct {
	handles []uint64
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

// addObject gives o a handle. s.mu is held (or the server is starting).
func (s *Server) addObject(o *object) uint64 {
	s.nextObj++
	o.handle = s.nextObj
	s.objects[o.handle] = o
	return o.handle
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

// put records a new object for sess: in the store if it is a token
// object, else as the session's own. s.mu is held.
func (s *Server) put(c *client, sess *session, attrs map[uint64][]byte, key *keyRef) (uint64, error) {
	o := &object{slot: sess.slot, attrs: attrs, key: key}
	if o.bool(p11.CKA_TOKEN) {
		if err := s.persist(o, c.login[sess.slot].key); err != nil {
			return 0, err
		}
	} else {
		o.client, o.session = c.id, sess.handle
	}
	return s.addObject(o), nil
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
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, err = s.sessionOf(c, req.Session)
	if err != nil {
		return nil, err
	}
	if err := mayHold(c, sess, attrs); err != nil {
		return nil, err
	}
	h, err := s.put(c, sess, attrs, ref)
	return &p11.ObjectResp{Object: h}, err
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
	if o.key != nil && (&object{attrs: attrs}).bool(p11.CKA_PRIVATE) != o.bool(p11.CKA_PRIVATE) {
		// The copy shares the key's authorisation, wrapped by the token
		// key of the original's kind (public.go).
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
	delete(s.objects, o.handle)
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
	if o.id != 0 {
		changed := *o
		changed.attrs = attrs
		if err := s.persist(&changed, c.login[sess.slot].key); err != nil {
			return nil, err
		}
	}
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
	op := &findOp{}
	for h, o := range s.objects {
		if _, err := s.objectOf(c, sess, h); err == nil && o.matches(req.Template) {
			op.handles = append(op.handles, h)
		}
	}
	slices.Sort(op.handles)
	sess.find = op
	return &p11.RVResp{}, nil
}

func (s *Server) findObjects(c *client, sess *session, req *p11.FindReq) (p11.Resp, error) {
	if sess.find == nil {
		return nil, p11.CKR_OPERATION_NOT_INITIALIZED
	}
	n := min(uint64(len(sess.find.handles)), req.Max)
	out := sess.find.handles[:n]
	sess.find.handles = sess.find.handles[n:]
	return &p11.FindResp{Objects: out}, nil
}

func (s *Server) findObjectsFinal(c *client, sess *session, req *p11.SessionReq) (p11.Resp, error) {
	if sess.find == nil {
		return nil, p11.CKR_OPERATION_NOT_INITIALIZED
	}
	sess.find = nil
	return &p11.RVResp{}, nil
}

// dropSessionObjects destroys the session objects of session h (or, with
// h zero, of every session of c). s.mu is held.
func (s *Server) dropSessionObjects(c *client, h uint64) {
	for oh, o := range s.objects {
		if o.session != 0 && o.client == c.id && (h == 0 || o.session == h) {
			delete(s.objects, oh)
		}
	}
}
