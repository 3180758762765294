package server

import (
	"tep.dev/tep/p11"
	"tep.dev/tep/tpm"
)

// Labels of the objects tepd init provisions, as the seed's boot-time
// provisioning does.
const (
	SampleAESLabel  = "TEP AES key"
	SampleDataLabel = "TEP data object"
	SampleData      = "This is my data object"
)

// ProvisionSamples puts a sample AES-256 key (in the TPM) and a data
// object on the token in slot, opening the token with the user PIN.
func (s *Server) ProvisionSamples(slot uint64, userPIN []byte) error {
	s.mu.Lock()
	t, err := s.tokenIn(slot)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if t.row.UserSeal == nil {
		return p11.CKR_USER_PIN_NOT_INITIALIZED
	}
	tokenKey, err := s.checkPIN(slot, false, userPIN)
	if err != nil {
		return err
	}
	defer clear(tokenKey)
	ref, err := s.newTPMKey(tpm.KeySpec{Kind: tpm.KindAES, Bits: 256, Sign: true, Decrypt: true}, tokenKey)
	if err != nil {
		return err
	}
	aes := map[uint64][]byte{
		p11.CKA_CLASS: p11.Ulong(p11.CKO_SECRET_KEY), p11.CKA_KEY_TYPE: p11.Ulong(p11.CKK_AES),
		p11.CKA_TOKEN: p11.Bool(true), p11.CKA_PRIVATE: p11.Bool(true), p11.CKA_MODIFIABLE: p11.Bool(true),
		p11.CKA_COPYABLE: p11.Bool(false), p11.CKA_DESTROYABLE: p11.Bool(true),
		p11.CKA_LABEL: []byte(SampleAESLabel), p11.CKA_ID: []byte{0xae, 0x50},
		p11.CKA_START_DATE: {}, p11.CKA_END_DATE: {}, p11.CKA_DERIVE: p11.Bool(false),
		p11.CKA_LOCAL: p11.Bool(true), p11.CKA_KEY_GEN_MECHANISM: p11.Ulong(p11.CKM_AES_KEY_GEN),
		p11.CKA_SENSITIVE: p11.Bool(true), p11.CKA_ENCRYPT: p11.Bool(true), p11.CKA_DECRYPT: p11.Bool(true),
		p11.CKA_SIGN: p11.Bool(false), p11.CKA_VERIFY: p11.Bool(false), p11.CKA_WRAP: p11.Bool(false),
		p11.CKA_UNWRAP: p11.Bool(false), p11.CKA_EXTRACTABLE: p11.Bool(false),
		p11.CKA_ALWAYS_SENSITIVE: p11.Bool(true), p11.CKA_NEVER_EXTRACTABLE: p11.Bool(true),
		p11.CKA_WRAP_WITH_TRUSTED: p11.Bool(false), p11.CKA_TRUSTED: p11.Bool(false),
		p11.CKA_VALUE_LEN: p11.Ulong(32),
	}
	data, err := newAttrs([]p11.Attribute{
		{Type: p11.CKA_CLASS, Value: p11.Ulong(p11.CKO_DATA)}, {Type: p11.CKA_TOKEN, Value: p11.Bool(true)},
		{Type: p11.CKA_LABEL, Value: []byte(SampleDataLabel)}, {Type: p11.CKA_APPLICATION, Value: []byte("tep")},
		{Type: p11.CKA_VALUE, Value: []byte(SampleData)},
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range []*object{{slot: slot, attrs: aes, key: ref}, {slot: slot, attrs: data}} {
		if err := s.persist(o, tokenKey); err != nil {
			return err
		}
		s.addObject(o)
	}
	return nil
}
