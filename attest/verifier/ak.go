package verifier

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"regexp"

	"github.com/google/go-tpm/tpm2"

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

// ekHash names an EK by the SHA-256 of its public key (PKIX DER), in
// hex: the allow list's and the host table's key. Not by its
// TPMT_PUBLIC: an agent can send the area with another authPolicy (or
// other fields that no check reads) while the key, and so the
// credential's activation, stays the same, and one EK is one host.
func ekHash(ekPublic []byte) (string, error) {
	pub, err := tpm2.Unmarshal[tpm2.TPMTPublic](ekPublic)
	if err != nil {
		return "", fmt.Errorf("%w: EK public area: %v", ErrInvalid, err)
	}
	key, err := tpm2.Pub(*pub)
	if err != nil {
		return "", fmt.Errorf("%w: EK public area: %v", ErrInvalid, err)
	}
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return "", fmt.Errorf("%w: EK public key: %v", ErrInvalid, err)
	}
	h := sha256.Sum256(der)
	return hex.EncodeToString(h[:]), nil
}

// EKHash is the name of an EK on the allow list (tep-verifier prints it
// for an EK file).
func EKHash(ekPublic []byte) (string, error) { return ekHash(ekPublic) }

// hostIDPattern bounds host ids: they appear in URLs, logs and (in the
// fleet issue) NATS subjects.
var hostIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// ValidHostID says whether id may name a host.
func ValidHostID(id string) bool { return hostIDPattern.MatchString(id) }
