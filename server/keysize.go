package server

import (
	"fmt"
	"slices"

	"tep.dev/tep/p11"
)

// DefaultMinRSABits is the smallest RSA modulus a token makes or imports
// unless its operator allows less (tepd init --min-rsa-bits): 2048, the
// least NIST SP 800-57 still accepts. The TPM may offer 1024 for legacy
// peers; a token takes it only when told to.
const DefaultMinRSABits = 2048

// minRSABits is a token's policy, its row's value or the default.
func minRSABits(rowBits int) int {
	if rowBits <= 0 {
		return DefaultMinRSABits
	}
	return rowBits
}

// SetMinRSABits sets the smallest RSA modulus the token in slot makes or
// imports: tepd init --min-rsa-bits. It must be one the TPM supports.
func (s *Server) SetMinRSABits(slot uint64, bits int) error {
	if !slices.Contains(s.caps.RSABits, bits) {
		return fmt.Errorf("RSA-%d: the TPM supports RSA moduli of %v bits", bits, s.caps.RSABits)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.tokenIn(slot)
	if err != nil {
		return err
	}
	if err := s.store.SetMinRSABits(slot, bits); err != nil {
		return fmt.Errorf("storing the RSA key-size policy: %w", err)
	}
	t.row.MinRSABits = bits
	return nil
}

// rsaAllowed says whether the token in slot makes or takes an RSA key of
// bits: the TPM supports it and the token's policy allows it. s.mu is
// held.
func (s *Server) rsaAllowed(slot uint64, bits int) bool {
	t := s.tokens[slot]
	return t != nil && slices.Contains(s.caps.RSABits, bits) && bits >= minRSABits(t.row.MinRSABits)
}

// isRSAMech says whether mech takes RSA keys, whose sizes are moduli.
func isRSAMech(mech uint64) bool {
	switch mech {
	case p11.CKM_RSA_PKCS_KEY_PAIR_GEN, p11.CKM_RSA_PKCS, p11.CKM_RSA_PKCS_OAEP:
		return true
	}
	sm, ok := sigMechs[mech]
	return ok && sm.keyType == p11.CKK_RSA
}

// infoFor is a mechanism's information on the token t: RSA key sizes
// start at the token's policy. s.mu is held.
func infoFor(info p11.MechanismInfoResp, mech uint64, t *token) p11.MechanismInfoResp {
	if t != nil && isRSAMech(mech) {
		info.MinKeySize = max(info.MinKeySize, uint64(minRSABits(t.row.MinRSABits)))
	}
	return info
}
