package device

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"errors"
	"fmt"
	"slices"

	"tep.dev/tep/tpm"
)

// Profile is a pair of key sizes a TPM is provisioned with.
type Profile struct {
	// Name is "ptt" or "dtpm".
	Name string
	// AESBits is the configuration key's size.
	AESBits int
	// Curve is the policy key's curve.
	Curve elliptic.Curve
}

// The profiles of the reference platform: Intel PTT has AES-256 and
// P-384; discrete TPMs often have only AES-128 and P-256.
var (
	PTT  = Profile{Name: "ptt", AESBits: 256, Curve: elliptic.P384()}
	DTPM = Profile{Name: "dtpm", AESBits: 128, Curve: elliptic.P256()}
)

// ErrProfile means the keys given do not fit the profile, or the TPM
// lacks what the profile needs. The error's text names the profile.
var ErrProfile = errors.New("keys do not fit the profile")

func (p Profile) String() string {
	return fmt.Sprintf("%s (AES-%d, %s)", p.Name, p.AESBits, p.Curve.Params().Name)
}

// SelectProfile returns the profile named name: "ptt", "dtpm", or "auto",
// which asks the TPM (TPM2_GetCapability and TPM2_TestParms, through
// tpm.TPM.Algorithms) and picks ptt if it has AES-256 and P-384, else
// dtpm. A profile whose algorithms the TPM lacks is refused with an error
// wrapping ErrProfile.
func SelectProfile(t *tpm.TPM, name string) (Profile, error) {
	caps, err := t.Algorithms()
	if err != nil {
		return Profile{}, err
	}
	has := func(p Profile) bool {
		return slices.Contains(caps.AESBits, p.AESBits) && slices.Contains(caps.Curves, p.Curve) &&
			(slices.Contains(caps.AESModes, tpm.ModeCTR) || slices.Contains(caps.AESModes, tpm.ModeECB))
	}
	switch name {
	case "auto":
		for _, p := range []Profile{PTT, DTPM} {
			if has(p) {
				return p, nil
			}
		}
		return Profile{}, fmt.Errorf("%w: the TPM has the algorithms of neither profile ptt (AES-256, P-384) nor dtpm (AES-128, P-256), with AES in CTR or ECB mode", ErrProfile)
	case PTT.Name, DTPM.Name:
		p := PTT
		if name == DTPM.Name {
			p = DTPM
		}
		if !has(p) {
			return Profile{}, fmt.Errorf("%w: profile %v: the TPM lacks its algorithms", ErrProfile, p)
		}
		return p, nil
	}
	return Profile{}, fmt.Errorf("unknown profile %q: want auto, ptt or dtpm", name)
}

// Check refuses keys of other sizes than the profile's, with an error
// wrapping ErrProfile that names the profile.
func (p Profile) Check(policy *ecdsa.PublicKey, aesKey []byte) error {
	if policy == nil || policy.Curve != p.Curve {
		got := "no key"
		if policy != nil {
			got = "a " + policy.Curve.Params().Name + " key"
		}
		return fmt.Errorf("%w: profile %v needs a %s policy key, not %s", ErrProfile, p, p.Curve.Params().Name, got)
	}
	if 8*len(aesKey) != p.AESBits {
		return fmt.Errorf("%w: profile %v needs an AES key of %d bytes, not %d", ErrProfile, p, p.AESBits/8, len(aesKey))
	}
	return nil
}
