package verifier

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"

	"tep.dev/tep/attest/quote"
)

// akName checks that a TPMT_PUBLIC is an attestation key
// (quote.ParseAK: a restricted signing key, fixedTPM, fixedParent,
// sensitiveDataOrigin, with a signing scheme) and returns its name,
// which the credential is made for.
func akName(pub []byte) ([]byte, error) {
	ak, err := quote.ParseAK(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return ak.Name, nil
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
