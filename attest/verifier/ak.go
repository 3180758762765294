package verifier

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"

	"github.com/google/go-tpm/tpm2"
)

// akName checks that a TPMT_PUBLIC is an attestation key as the issue
// asks (a restricted signing key that cannot decrypt, fixedTPM,
// fixedParent, sensitiveDataOrigin: TPM 2.0 Part 1, 25.2 and 27.2) and
// returns its name.
func akName(pub []byte) ([]byte, error) {
	p, err := tpm2.Unmarshal[tpm2.TPMTPublic](pub)
	if err != nil {
		return nil, fmt.Errorf("%w: AK public area: %v", ErrInvalid, err)
	}
	a := p.ObjectAttributes
	switch {
	case !a.Restricted || !a.SignEncrypt || a.Decrypt:
		return nil, fmt.Errorf("%w: the AK is not a restricted signing key", ErrInvalid)
	case !a.FixedTPM || !a.FixedParent || !a.SensitiveDataOrigin:
		return nil, fmt.Errorf("%w: the AK is not fixedTPM, fixedParent and sensitiveDataOrigin", ErrInvalid)
	}
	name, err := tpm2.ObjectName(p)
	if err != nil {
		return nil, fmt.Errorf("%w: AK name: %v", ErrInvalid, err)
	}
	return name.Buffer, nil
}

// ekHash names an EK by the SHA-256 of its TPMT_PUBLIC, in hex: the
// allow list's and the host table's key.
func ekHash(ekPublic []byte) string {
	h := sha256.Sum256(ekPublic)
	return hex.EncodeToString(h[:])
}

// EKHash is the name of an EK on the allow list (tep-verifier prints it
// for an EK file).
func EKHash(ekPublic []byte) string { return ekHash(ekPublic) }

// hostIDPattern bounds host ids: they appear in URLs, logs and (in the
// fleet issue) NATS subjects.
var hostIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// ValidHostID says whether id may name a host.
func ValidHostID(id string) bool { return hostIDPattern.MatchString(id) }
