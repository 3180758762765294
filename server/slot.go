package server

import (
	"crypto/elliptic"
	"slices"

	"tep.dev/tep/p11"
	"tep.dev/tep/tpm"
)

// Identity strings of slots and tokens; the provider pads them.
const (
	manufacturer = "TEP"
	tokenModel   = "TPM 2.0"
)

// Versions reported for slot and token hardware and firmware.
var (
	hardwareVersion = p11.Version{Major: 2, Minor: 0} // TPM 2.0
	firmwareVersion = p11.Version{Major: 0, Minor: 1}
)

func (s *Server) slotList(c *client, req *p11.SlotListReq) (p11.Resp, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Every slot holds a token: the free slot's, there only when guests
	// may make tokens, is not initialised.
	slots := make([]uint64, 0, len(s.tokens)+1)
	for slot := range s.tokens {
		slots = append(slots, slot)
	}
	if s.allowTokenInit {
		slots = append(slots, s.freeSlot())
	}
	slices.Sort(slots)
	return &p11.SlotListResp{Slots: slots}, nil
}

func (s *Server) slotInfo(c *client, req *p11.SlotReq) (p11.Resp, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.slotKnown(req.Slot); err != nil {
		return nil, err
	}
	return &p11.SlotInfoResp{
		Description: "TEP TPM-backed slot", ManufacturerID: manufacturer,
		Flags:           p11.CKF_TOKEN_PRESENT | p11.CKF_HW_SLOT,
		HardwareVersion: hardwareVersion, FirmwareVersion: firmwareVersion,
	}, nil
}

func (s *Server) tokenInfo(c *client, req *p11.SlotReq) (p11.Resp, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.slotKnown(req.Slot)
	if err != nil {
		return nil, err
	}
	info := p11.TokenInfo{
		ManufacturerID: manufacturer, Model: tokenModel,
		Flags:           p11.CKF_RNG | p11.CKF_LOGIN_REQUIRED,
		MaxSessionCount: p11.CK_EFFECTIVELY_INFINITE, MaxRwSessionCount: p11.CK_EFFECTIVELY_INFINITE,
		MinPinLen: MinPINLen, MaxPinLen: MaxPINLen,
		TotalPublicMemory: p11.CK_UNAVAILABLE_INFORMATION, FreePublicMemory: p11.CK_UNAVAILABLE_INFORMATION,
		TotalPrivateMemory: p11.CK_UNAVAILABLE_INFORMATION, FreePrivateMemory: p11.CK_UNAVAILABLE_INFORMATION,
		HardwareVersion: hardwareVersion, FirmwareVersion: firmwareVersion,
	}
	if t != nil {
		info.Label, info.SerialNumber = t.row.Label, t.row.Serial
		info.Flags |= p11.CKF_TOKEN_INITIALIZED
		n := tries(t.row.PINTries)
		if t.row.UserSeal != nil {
			info.Flags |= p11.CKF_USER_PIN_INITIALIZED |
				pinFlags(t.row.UserPINFails, n, p11.CKF_USER_PIN_COUNT_LOW, p11.CKF_USER_PIN_FINAL_TRY, p11.CKF_USER_PIN_LOCKED)
		}
		info.Flags |= pinFlags(t.row.SOPINFails, n, p11.CKF_SO_PIN_COUNT_LOW, p11.CKF_SO_PIN_FINAL_TRY, p11.CKF_SO_PIN_LOCKED)
	}
	for _, sess := range s.sessions {
		if sess.slot == req.Slot {
			info.SessionCount++
			if sess.rw {
				info.RwSessionCount++
			}
		}
	}
	return &p11.TokenInfoResp{Info: info}, nil
}

// mechanismsFor lists what a token offers on a TPM with caps, with
// CK_MECHANISM_INFO flags: digests and verification in software, key
// generation and signing only as far as the TPM can.
func mechanismsFor(caps tpm.Caps) map[uint64]p11.MechanismInfoResp {
	m := map[uint64]p11.MechanismInfoResp{
		p11.CKM_SHA_1:  {Flags: p11.CKF_DIGEST},
		p11.CKM_SHA256: {Flags: p11.CKF_DIGEST},
		p11.CKM_SHA384: {Flags: p11.CKF_DIGEST},
		p11.CKM_SHA512: {Flags: p11.CKF_DIGEST},
	}
	const ecFlags = p11.CKF_EC_F_P | p11.CKF_EC_NAMEDCURVE | p11.CKF_EC_UNCOMPRESS
	rsaMin, rsaMax := keySizes(caps.RSABits)
	ecMin, ecMax := curveSizes(caps.Curves)
	if rsaMax > 0 {
		m[p11.CKM_RSA_PKCS_KEY_PAIR_GEN] = p11.MechanismInfoResp{MinKeySize: uint64(rsaMin), MaxKeySize: uint64(rsaMax), Flags: p11.CKF_HW | p11.CKF_GENERATE_KEY_PAIR}
	}
	if ecMax > 0 {
		m[p11.CKM_EC_KEY_PAIR_GEN] = p11.MechanismInfoResp{MinKeySize: uint64(ecMin), MaxKeySize: uint64(ecMax), Flags: p11.CKF_HW | p11.CKF_GENERATE_KEY_PAIR | ecFlags}
	}
	if len(caps.AESModes) > 0 {
		lo, hi := keySizes(caps.AESBits)
		m[p11.CKM_AES_KEY_GEN] = p11.MechanismInfoResp{MinKeySize: uint64(lo / 8), MaxKeySize: uint64(hi / 8), Flags: p11.CKF_HW | p11.CKF_GENERATE}
		for mech, sm := range symMechs {
			if sm.cipher == aesCipher && sm.offered(caps) {
				m[mech] = p11.MechanismInfoResp{MinKeySize: uint64(lo / 8), MaxKeySize: uint64(hi / 8), Flags: p11.CKF_HW | p11.CKF_ENCRYPT | p11.CKF_DECRYPT}
			}
		}
	}
	addTDES(m, caps)
	if caps.HMAC {
		m[p11.CKM_GENERIC_SECRET_KEY_GEN] = p11.MechanismInfoResp{MinKeySize: 14, MaxKeySize: 128, Flags: p11.CKF_HW | p11.CKF_GENERATE}
		for mech, h := range hmacMechs {
			if slices.Contains(caps.Hashes, h) {
				m[mech] = p11.MechanismInfoResp{MinKeySize: 14, MaxKeySize: 128, Flags: p11.CKF_HW | p11.CKF_SIGN | p11.CKF_VERIFY}
			}
		}
	}
	const rsaCrypt = p11.CKF_HW | p11.CKF_ENCRYPT | p11.CKF_DECRYPT | p11.CKF_UNWRAP
	if caps.RSAES {
		m[p11.CKM_RSA_PKCS] = p11.MechanismInfoResp{MinKeySize: uint64(rsaMin), MaxKeySize: uint64(rsaMax), Flags: rsaCrypt}
	}
	if caps.OAEP {
		m[p11.CKM_RSA_PKCS_OAEP] = p11.MechanismInfoResp{MinKeySize: uint64(rsaMin), MaxKeySize: uint64(rsaMax), Flags: rsaCrypt}
	}
	for mech, sm := range sigMechs {
		info := p11.MechanismInfoResp{MinKeySize: 1024, MaxKeySize: 8192, Flags: p11.CKF_VERIFY}
		if sm.keyType == p11.CKK_EC {
			info = p11.MechanismInfoResp{MinKeySize: 256, MaxKeySize: 521, Flags: p11.CKF_VERIFY | ecFlags}
		}
		if canSign(caps, mech, sm) {
			info.Flags |= p11.CKF_SIGN | p11.CKF_HW
		}
		info.Flags |= m[mech].Flags // CKM_RSA_PKCS also encrypts
		m[mech] = info
	}
	return m
}

// addTDES adds the TDES mechanisms to m where the TPM has TDES: key
// generation for the sizes it takes (PKCS#11 v2.40, 2.2: CKM_DES2_KEY_GEN
// for 16-byte keys, CKM_DES3_KEY_GEN for 24), and ECB, CBC and CBC_PAD for
// either size. Sizes are in bytes, parity bits included.
func addTDES(m map[uint64]p11.MechanismInfoResp, caps tpm.Caps) {
	lo, hi := keySizes(caps.TDESBits)
	for mech, bits := range map[uint64]int{p11.CKM_DES2_KEY_GEN: 128, p11.CKM_DES3_KEY_GEN: 192} {
		if slices.Contains(caps.TDESBits, bits) {
			m[mech] = p11.MechanismInfoResp{MinKeySize: uint64(bits / 8), MaxKeySize: uint64(bits / 8), Flags: p11.CKF_HW | p11.CKF_GENERATE}
		}
	}
	for mech, sm := range symMechs {
		if sm.cipher == tdesCipher && sm.offered(caps) && hi > 0 {
			m[mech] = p11.MechanismInfoResp{MinKeySize: uint64(lo / 8), MaxKeySize: uint64(hi / 8), Flags: p11.CKF_HW | p11.CKF_ENCRYPT | p11.CKF_DECRYPT}
		}
	}
}

func keySizes(bits []int) (lo, hi int) {
	for _, b := range bits {
		if lo == 0 || b < lo {
			lo = b
		}
		hi = max(hi, b)
	}
	return lo, hi
}

func curveSizes(curves []elliptic.Curve) (lo, hi int) {
	for _, c := range curves {
		if _, ok := curveOID(c); !ok {
			continue
		}
		b := c.Params().BitSize
		if lo == 0 || b < lo {
			lo = b
		}
		hi = max(hi, b)
	}
	return lo, hi
}

func (s *Server) mechanismList(c *client, req *p11.SlotReq) (p11.Resp, error) {
	s.mu.Lock()
	_, err := s.slotKnown(req.Slot)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	list := make([]uint64, 0, len(s.mechs))
	for m := range s.mechs {
		list = append(list, m)
	}
	slices.Sort(list)
	return &p11.MechanismListResp{Mechanisms: list}, nil
}

func (s *Server) mechanismInfo(c *client, req *p11.MechanismInfoReq) (p11.Resp, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.slotKnown(req.Slot)
	if err != nil {
		return nil, err
	}
	info, ok := s.mechs[req.Type]
	if !ok {
		return nil, p11.CKR_MECHANISM_INVALID
	}
	info = infoFor(info, req.Type, t)
	return &info, nil
}
