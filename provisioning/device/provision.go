package device

import (
	"crypto/ecdsa"
	"crypto/x509"
	"fmt"

	"github.com/google/go-tpm/tpm2/transport"

	"tep.dev/tep/provisioning"
	"tep.dev/tep/tpm"
)

// Request is what tep-provision device writes.
type Request struct {
	// PolicyKey is the operator's policy-signing public key.
	PolicyKey *ecdsa.PublicKey
	// AESKey is the configuration key, 16 or 32 bytes. Provision keeps no
	// copy; the caller zeroes it after the call.
	AESKey []byte
	// Profile is "auto" (also when empty), "ptt" or "dtpm".
	Profile string
	// Replace overwrites a policy key or AES key that differs from the
	// ones given.
	Replace bool
}

// Result says what Provision found and did.
type Result struct {
	Profile Profile
	// PolicyKeyChanged and AESKeyChanged are false where the TPM already
	// held the same key.
	PolicyKeyChanged, AESKeyChanged bool
	// PolicyKeyFingerprint is Fingerprint of the policy key,
	// AESKeyFingerprint AESFingerprint of the AES key.
	PolicyKeyFingerprint, AESKeyFingerprint [32]byte
	// Epoch and Revocation are the values of the counters at
	// provisioning.ConfigEpochIndex and provisioning.LUKSRevocationIndex.
	Epoch, Revocation uint64
}

// Changed reports whether Provision changed either key.
func (r Result) Changed() bool { return r.PolicyKeyChanged || r.AESKeyChanged }

// Provision writes the policy key to its NV index (WritePolicyKey) and
// imports the AES key to its persistent handle (ImportAESKey), after
// checking both against the profile (SelectProfile, Profile.Check). It
// starts the two NV counters (EnsureCounter), so that their first values
// are known before an epoch is chosen. Without req.Replace, a conflict at
// either handle is found before anything is written: a refused run
// changes nothing. The same request twice changes nothing the second
// time.
func Provision(t *tpm.TPM, req Request) (Result, error) {
	name := req.Profile
	if name == "" {
		name = "auto"
	}
	p, err := SelectProfile(t, name)
	if err != nil {
		return Result{}, err
	}
	if name == "auto" {
		p.Name += " (auto)"
	}
	if err := p.Check(req.PolicyKey, req.AESKey); err != nil {
		return Result{}, err
	}
	r := Result{Profile: p, PolicyKeyFingerprint: Fingerprint(req.PolicyKey)}
	if r.AESKeyFingerprint, err = AESFingerprint(req.AESKey); err != nil {
		return Result{}, err
	}
	if !req.Replace {
		if err := checkConflicts(t, req); err != nil {
			return Result{}, err
		}
	}
	if r.PolicyKeyChanged, err = WritePolicyKey(t, req.PolicyKey, req.Replace); err != nil {
		return Result{}, err
	}
	if r.AESKeyChanged, err = ImportAESKey(t, req.AESKey, req.Replace); err != nil {
		return Result{}, err
	}
	if r.Epoch, err = EnsureCounter(t, provisioning.ConfigEpochIndex); err != nil {
		return Result{}, err
	}
	if r.Revocation, err = EnsureCounter(t, provisioning.LUKSRevocationIndex); err != nil {
		return Result{}, err
	}
	return r, nil
}

// checkConflicts returns the first conflict at the policy key's index or
// the AES key's handle, without changing either.
func checkConflicts(t *tpm.TPM, req Request) error {
	der, err := x509.MarshalPKIXPublicKey(req.PolicyKey)
	if err != nil {
		return err
	}
	err = t.Do(func(tr transport.TPM) error {
		_, _, err := planPolicyKey(tr, der)
		return err
	})
	if err != nil {
		return fmt.Errorf("writing the policy key: %w", err)
	}
	if _, err := checkAESKeyAt(t, req.AESKey); err != nil {
		return fmt.Errorf("provisioning the AES key: %w", err)
	}
	return nil
}
