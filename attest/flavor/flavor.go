package flavor

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"tep.dev/tep/attest/internal/jws"
	"tep.dev/tep/attest/runtime"
)

// Part is a flavor part.
type Part string

// The flavor parts (SecL's names).
const (
	Platform   Part = "PLATFORM"
	OS         Part = "OS"
	HostUnique Part = "HOST_UNIQUE"
	IMA        Part = "IMA"
)

// Meta describes a flavor.
type Meta struct {
	ID    string `json:"id"`
	Part  Part   `json:"flavor_part"`
	Label string `json:"label,omitempty"`
	// Source is the golden host the flavor was imported from.
	Source string `json:"source,omitempty"`
	// HostID is the one host a HOST_UNIQUE flavor applies to.
	HostID  string    `json:"host_id,omitempty"`
	Created time.Time `json:"created"`
	// TPMFirmware, when set, is the TPM firmware version the host must
	// report.
	TPMFirmware string `json:"tpm_firmware,omitempty"`
}

// PCR names a PCR in a bank ("sha1", "sha256", "sha384", "sha512").
type PCR struct {
	Index int    `json:"index"`
	Bank  string `json:"bank"`
}

// Event is an expected boot-log event: its type and its digest (hex) in
// the rule's bank. Tags are informative here; exclusion uses the host
// events' tags.
type Event struct {
	TypeID      uint32   `json:"type_id"`
	TypeName    string   `json:"type_name,omitempty"`
	Tags        []string `json:"tags,omitempty"`
	Measurement string   `json:"measurement"`
}

// EventlogEquals is the eventlog_equals condition.
type EventlogEquals struct {
	Events      []Event  `json:"events"`
	ExcludeTags []string `json:"exclude_tags,omitempty"`
}

// PCRRule is one PCR's conditions.
type PCRRule struct {
	PCR              PCR             `json:"pcr"`
	Measurement      string          `json:"measurement,omitempty"`
	PCRMatches       bool            `json:"pcr_matches,omitempty"`
	EventlogEquals   *EventlogEquals `json:"eventlog_equals,omitempty"`
	EventlogIncludes []Event         `json:"eventlog_includes,omitempty"`
}

// Flavor is one part's expectations.
type Flavor struct {
	Meta Meta      `json:"meta"`
	PCRs []PCRRule `json:"pcrs,omitempty"`
	// Runtime is the IMA part's runtime policy.
	Runtime *runtime.Policy `json:"runtime_policy,omitempty"`
}

// Signed is a flavor as the verifier stores it. The signature covers the
// flavor's JSON encoding, so a store keeps the flavor as that JSON (or
// as values that encode back to the same bytes).
type Signed struct {
	Flavor    Flavor `json:"flavor"`
	Signature string `json:"signature"`
}

// SignatureType is the JWS "typ" of a flavor signature.
const SignatureType = "tep-flavor+json"

// ErrSignature is wrapped when a stored flavor's signature does not
// verify.
var ErrSignature = jws.ErrSignature

// Sign signs f with the verifier's key.
func Sign(f Flavor, key crypto.Signer) (Signed, error) {
	b, err := json.Marshal(f)
	if err != nil {
		return Signed{}, fmt.Errorf("encoding flavor %s: %w", f.Meta.ID, err)
	}
	sig, err := jws.Sign(b, SignatureType, key)
	if err != nil {
		return Signed{}, fmt.Errorf("signing flavor %s: %w", f.Meta.ID, err)
	}
	return Signed{Flavor: f, Signature: sig}, nil
}

// Verify checks that the signature is the verifier's over exactly this
// flavor: a flavor changed after signing (a stored row edited) fails.
func (s Signed) Verify(pub crypto.PublicKey) error {
	payload, err := jws.Verify(s.Signature, SignatureType, pub)
	if err != nil {
		return fmt.Errorf("flavor %s: %w", s.Flavor.Meta.ID, err)
	}
	b, err := json.Marshal(s.Flavor)
	if err != nil {
		return fmt.Errorf("flavor %s: %w", s.Flavor.Meta.ID, err)
	}
	if !bytes.Equal(payload, b) {
		return fmt.Errorf("flavor %s: %w: the flavor differs from what was signed", s.Flavor.Meta.ID, ErrSignature)
	}
	return nil
}

// ContentID returns an ID derived from f's content (with its ID left
// out): equal flavors get equal IDs.
func ContentID(f Flavor) string {
	f.Meta.ID = ""
	b, _ := json.Marshal(f)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}
