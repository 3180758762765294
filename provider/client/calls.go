package client

import "tep.dev/tep/p11"

// The methods below map one to one onto PKCS#11 functions; each returns a
// p11.RV as its error when the server answers anything but CKR_OK, and an
// ErrLink error when the server cannot be reached.

// SlotList is C_GetSlotList.
func (c *Client) SlotList(tokenPresent bool) ([]uint64, error) {
	var r p11.SlotListResp
	err := c.call(p11.FnGetSlotList, &p11.SlotListReq{TokenPresent: tokenPresent}, &r)
	return r.Slots, err
}

// SlotInfo is C_GetSlotInfo.
func (c *Client) SlotInfo(slot uint64) (p11.SlotInfoResp, error) {
	var r p11.SlotInfoResp
	err := c.call(p11.FnGetSlotInfo, &p11.SlotReq{Slot: slot}, &r)
	return r, err
}

// TokenInfo is C_GetTokenInfo.
func (c *Client) TokenInfo(slot uint64) (p11.TokenInfo, error) {
	var r p11.TokenInfoResp
	err := c.call(p11.FnGetTokenInfo, &p11.SlotReq{Slot: slot}, &r)
	return r.Info, err
}

// MechanismList is C_GetMechanismList.
func (c *Client) MechanismList(slot uint64) ([]uint64, error) {
	var r p11.MechanismListResp
	err := c.call(p11.FnGetMechanismList, &p11.SlotReq{Slot: slot}, &r)
	return r.Mechanisms, err
}

// MechanismInfo is C_GetMechanismInfo.
func (c *Client) MechanismInfo(slot, mech uint64) (p11.MechanismInfoResp, error) {
	var r p11.MechanismInfoResp
	err := c.call(p11.FnGetMechanismInfo, &p11.MechanismInfoReq{Slot: slot, Type: mech}, &r)
	return r, err
}

// InitToken is C_InitToken; label is the 32-byte padded label.
func (c *Client) InitToken(slot uint64, soPIN []byte, label string) error {
	return c.call(p11.FnInitToken, &p11.InitTokenReq{Slot: slot, SOPIN: soPIN, Label: label}, &p11.RVResp{})
}

// InitPIN is C_InitPIN.
func (c *Client) InitPIN(session uint64, pin []byte) error {
	return c.call(p11.FnInitPIN, &p11.InitPINReq{Session: session, PIN: pin}, &p11.RVResp{})
}

// SetPIN is C_SetPIN.
func (c *Client) SetPIN(session uint64, oldPIN, newPIN []byte) error {
	return c.call(p11.FnSetPIN, &p11.SetPINReq{Session: session, Old: oldPIN, New: newPIN}, &p11.RVResp{})
}

// OpenSession is C_OpenSession.
func (c *Client) OpenSession(slot, flags uint64) (uint64, error) {
	var r p11.OpenSessionResp
	err := c.call(p11.FnOpenSession, &p11.OpenSessionReq{Slot: slot, Flags: flags}, &r)
	return r.Session, err
}

// CloseSession is C_CloseSession.
func (c *Client) CloseSession(session uint64) error {
	return c.call(p11.FnCloseSession, &p11.SessionReq{Session: session}, &p11.RVResp{})
}

// CloseAllSessions is C_CloseAllSessions.
func (c *Client) CloseAllSessions(slot uint64) error {
	return c.call(p11.FnCloseAllSessions, &p11.SlotReq{Slot: slot}, &p11.RVResp{})
}

// SessionInfo is C_GetSessionInfo.
func (c *Client) SessionInfo(session uint64) (p11.SessionInfoResp, error) {
	var r p11.SessionInfoResp
	err := c.call(p11.FnGetSessionInfo, &p11.SessionReq{Session: session}, &r)
	return r, err
}

// Login is C_Login.
func (c *Client) Login(session, userType uint64, pin []byte) error {
	return c.call(p11.FnLogin, &p11.LoginReq{Session: session, UserType: userType, PIN: pin}, &p11.RVResp{})
}

// Logout is C_Logout.
func (c *Client) Logout(session uint64) error {
	return c.call(p11.FnLogout, &p11.SessionReq{Session: session}, &p11.RVResp{})
}

// randomChunk bounds one C_GenerateRandom call on the wire; longer
// requests are split.
const randomChunk = 1 << 20

// GenerateRandom is C_GenerateRandom: it fills out, in as many calls as
// its length needs (at least one, so a bad session is always reported).
func (c *Client) GenerateRandom(session uint64, out []byte) error {
	for {
		n := min(len(out), randomChunk)
		var r p11.DataResp
		if err := c.call(p11.FnGenerateRandom, &p11.GenerateRandomReq{Session: session, Len: uint64(n)}, &r); err != nil {
			return err
		}
		if len(r.Data) != n {
			return p11.CKR_DEVICE_ERROR
		}
		copy(out, r.Data)
		if out = out[n:]; len(out) == 0 {
			return nil
		}
	}
}

// SeedRandom is C_SeedRandom.
func (c *Client) SeedRandom(session uint64, seed []byte) error {
	return c.call(p11.FnSeedRandom, &p11.DataReq{Session: session, Data: seed}, &p11.RVResp{})
}

// DigestInit is C_DigestInit.
func (c *Client) DigestInit(session uint64, m p11.Mechanism) error {
	return c.call(p11.FnDigestInit, &p11.OpInitReq{Session: session, Mechanism: m}, &p11.RVResp{})
}

// lengthQuery returns the data a C_Digest or C_Sign with an output buffer
// of capacity outCap needs to send: none for a length query (a NULL
// buffer). A digest's or a signature's length does not depend on the data,
// and the server answers a length query before it looks at any; an
// application that asks first then sends its data over the line once, not
// twice.
func lengthQuery(data []byte, outCap int64) []byte {
	if outCap < 0 {
		return nil
	}
	return data
}

// digestChunk bounds the data of one digest call on the wire; C_Digest
// of more is carried as updates and a final.
const digestChunk = 8 << 20

// Digest is C_Digest. outCap is the capacity of the caller's buffer, -1
// for NULL; the result is the digest, or only its length (out nil) when
// the buffer is NULL or too short (then with CKR_BUFFER_TOO_SMALL).
func (c *Client) Digest(session uint64, data []byte, outCap int64) ([]byte, uint64, error) {
	data = lengthQuery(data, outCap)
	if len(data) > digestChunk {
		return c.digestLong(session, data, outCap)
	}
	var r p11.OutResp
	err := c.call(p11.FnDigest, &p11.OutReq{Session: session, Data: data, OutCap: outCap}, &r)
	return r.Out, r.Len, err
}

// digestLong carries a long C_Digest in parts (p11.FnDigestMore) and a
// last C_Digest, after making sure the caller's buffer is large enough: a
// length query must leave the operation as it was.
func (c *Client) digestLong(session uint64, data []byte, outCap int64) ([]byte, uint64, error) {
	_, need, err := c.Digest(session, nil, -1)
	if err != nil || outCap < int64(need) {
		if err == nil && outCap >= 0 {
			err = p11.CKR_BUFFER_TOO_SMALL
		}
		return nil, need, err
	}
	for len(data) > digestChunk {
		if err := c.call(p11.FnDigestMore, &p11.DataReq{Session: session, Data: data[:digestChunk]}, &p11.RVResp{}); err != nil {
			return nil, 0, err
		}
		data = data[digestChunk:]
	}
	var r p11.OutResp
	err = c.call(p11.FnDigest, &p11.OutReq{Session: session, Data: data, OutCap: outCap}, &r)
	return r.Out, r.Len, err
}

// DigestKey is C_DigestKey.
func (c *Client) DigestKey(session, key uint64) error {
	return c.call(p11.FnDigestKey, &p11.ObjectReq{Session: session, Object: key}, &p11.RVResp{})
}

// DigestUpdate is C_DigestUpdate.
func (c *Client) DigestUpdate(session uint64, data []byte) error {
	return c.call(p11.FnDigestUpdate, &p11.DataReq{Session: session, Data: data}, &p11.RVResp{})
}

// DigestFinal is C_DigestFinal, with the length convention of Digest.
func (c *Client) DigestFinal(session uint64, outCap int64) ([]byte, uint64, error) {
	var r p11.OutResp
	err := c.call(p11.FnDigestFinal, &p11.OutReq{Session: session, OutCap: outCap}, &r)
	return r.Out, r.Len, err
}

// CreateObject is C_CreateObject.
func (c *Client) CreateObject(session uint64, tmpl []p11.Attribute) (uint64, error) {
	var r p11.ObjectResp
	err := c.call(p11.FnCreateObject, &p11.TemplateReq{Session: session, Template: tmpl}, &r)
	return r.Object, err
}

// CopyObject is C_CopyObject.
func (c *Client) CopyObject(session, object uint64, tmpl []p11.Attribute) (uint64, error) {
	var r p11.ObjectResp
	err := c.call(p11.FnCopyObject, &p11.TemplateReq{Session: session, Object: object, Template: tmpl}, &r)
	return r.Object, err
}

// DestroyObject is C_DestroyObject.
func (c *Client) DestroyObject(session, object uint64) error {
	return c.call(p11.FnDestroyObject, &p11.ObjectReq{Session: session, Object: object}, &p11.RVResp{})
}

// ObjectSize is C_GetObjectSize.
func (c *Client) ObjectSize(session, object uint64) (uint64, error) {
	var r p11.ObjectResp
	err := c.call(p11.FnGetObjectSize, &p11.ObjectReq{Session: session, Object: object}, &r)
	return r.Object, err
}

// AttributeValues is C_GetAttributeValue: one answer per type, also when
// the error is CKR_ATTRIBUTE_SENSITIVE or CKR_ATTRIBUTE_TYPE_INVALID.
func (c *Client) AttributeValues(session, object uint64, types []uint64) ([]p11.AttrValue, error) {
	var r p11.GetAttrResp
	err := c.call(p11.FnGetAttributeValue, &p11.GetAttrReq{Session: session, Object: object, Types: types}, &r)
	return r.Values, err
}

// SetAttributeValue is C_SetAttributeValue.
func (c *Client) SetAttributeValue(session, object uint64, tmpl []p11.Attribute) error {
	return c.call(p11.FnSetAttributeValue, &p11.TemplateReq{Session: session, Object: object, Template: tmpl}, &p11.RVResp{})
}

// FindObjectsInit is C_FindObjectsInit.
func (c *Client) FindObjectsInit(session uint64, tmpl []p11.Attribute) error {
	return c.call(p11.FnFindObjectsInit, &p11.TemplateReq{Session: session, Template: tmpl}, &p11.RVResp{})
}

// FindObjects is C_FindObjects.
func (c *Client) FindObjects(session, max uint64) ([]uint64, error) {
	var r p11.FindResp
	err := c.call(p11.FnFindObjects, &p11.FindReq{Session: session, Max: max}, &r)
	return r.Objects, err
}

// FindObjectsFinal is C_FindObjectsFinal.
func (c *Client) FindObjectsFinal(session uint64) error {
	return c.call(p11.FnFindObjectsFinal, &p11.SessionReq{Session: session}, &p11.RVResp{})
}

// VerifyInit is C_VerifyInit.
func (c *Client) VerifyInit(session uint64, m p11.Mechanism, key uint64) error {
	return c.call(p11.FnVerifyInit, &p11.OpInitReq{Session: session, Mechanism: m, Key: key}, &p11.RVResp{})
}

// Verify is C_Verify.
func (c *Client) Verify(session uint64, data, sig []byte) error {
	return c.call(p11.FnVerify, &p11.VerifyReq{Session: session, Data: data, Signature: sig}, &p11.RVResp{})
}

// VerifyUpdate is C_VerifyUpdate.
func (c *Client) VerifyUpdate(session uint64, part []byte) error {
	return c.call(p11.FnVerifyUpdate, &p11.DataReq{Session: session, Data: part}, &p11.RVResp{})
}

// VerifyFinal is C_VerifyFinal.
func (c *Client) VerifyFinal(session uint64, sig []byte) error {
	return c.call(p11.FnVerifyFinal, &p11.VerifyReq{Session: session, Signature: sig}, &p11.RVResp{})
}

// GenerateKeyPair is C_GenerateKeyPair.
func (c *Client) GenerateKeyPair(session uint64, m p11.Mechanism, pub, priv []p11.Attribute) (uint64, uint64, error) {
	var r p11.KeyPairResp
	err := c.call(p11.FnGenerateKeyPair, &p11.KeyPairReq{Session: session, Mechanism: m, Public: pub, Private: priv}, &r)
	return r.Public, r.Private, err
}

// SignInit is C_SignInit.
func (c *Client) SignInit(session uint64, m p11.Mechanism, key uint64) error {
	return c.call(p11.FnSignInit, &p11.OpInitReq{Session: session, Mechanism: m, Key: key}, &p11.RVResp{})
}

// Sign is C_Sign, with the length convention of Digest.
func (c *Client) Sign(session uint64, data []byte, outCap int64) ([]byte, uint64, error) {
	data = lengthQuery(data, outCap)
	var r p11.OutResp
	err := c.call(p11.FnSign, &p11.OutReq{Session: session, Data: data, OutCap: outCap}, &r)
	return r.Out, r.Len, err
}

// SignUpdate is C_SignUpdate.
func (c *Client) SignUpdate(session uint64, part []byte) error {
	return c.call(p11.FnSignUpdate, &p11.DataReq{Session: session, Data: part}, &p11.RVResp{})
}

// SignFinal is C_SignFinal, with the length convention of Digest.
func (c *Client) SignFinal(session uint64, outCap int64) ([]byte, uint64, error) {
	var r p11.OutResp
	err := c.call(p11.FnSignFinal, &p11.OutReq{Session: session, OutCap: outCap}, &r)
	return r.Out, r.Len, err
}

// GenerateKey is C_GenerateKey.
func (c *Client) GenerateKey(session uint64, m p11.Mechanism, tmpl []p11.Attribute) (uint64, error) {
	var r p11.ObjectResp
	err := c.call(p11.FnGenerateKey, &p11.KeyReq{Session: session, Mechanism: m, Template: tmpl}, &r)
	return r.Object, err
}

// CryptInit is C_EncryptInit, or C_DecryptInit when decrypt is set.
func (c *Client) CryptInit(decrypt bool, session uint64, m p11.Mechanism, key uint64) error {
	fn := p11.FnEncryptInit
	if decrypt {
		fn = p11.FnDecryptInit
	}
	return c.call(fn, &p11.OpInitReq{Session: session, Mechanism: m, Key: key}, &p11.RVResp{})
}

// cryptFns are the functions of encryption and decryption: single-part,
// update, final.
var cryptFns = [2][3]uint16{
	{p11.FnEncrypt, p11.FnEncryptUpdate, p11.FnEncryptFinal},
	{p11.FnDecrypt, p11.FnDecryptUpdate, p11.FnDecryptFinal},
}

// Crypt is C_Encrypt/C_Decrypt (step 0), …Update (1) or …Final (2), with
// the length convention of Digest.
func (c *Client) Crypt(decrypt bool, step int, session uint64, data []byte, outCap int64) ([]byte, uint64, error) {
	d := 0
	if decrypt {
		d = 1
	}
	var r p11.OutResp
	err := c.call(cryptFns[d][step], &p11.OutReq{Session: session, Data: data, OutCap: outCap}, &r)
	return r.Out, r.Len, err
}

// WrapKey is C_WrapKey, with the length convention of Digest.
func (c *Client) WrapKey(session uint64, m p11.Mechanism, wrapping, key uint64, outCap int64) ([]byte, uint64, error) {
	var r p11.OutResp
	err := c.call(p11.FnWrapKey, &p11.WrapReq{Session: session, Mechanism: m, Wrapping: wrapping, Key: key, OutCap: outCap}, &r)
	return r.Out, r.Len, err
}

// UnwrapKey is C_UnwrapKey.
func (c *Client) UnwrapKey(session uint64, m p11.Mechanism, unwrapping uint64, wrapped []byte, tmpl []p11.Attribute) (uint64, error) {
	var r p11.ObjectResp
	err := c.call(p11.FnUnwrapKey, &p11.WrapReq{Session: session, Mechanism: m, Wrapping: unwrapping, Data: wrapped, Template: tmpl}, &r)
	return r.Object, err
}
