package credential

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/google/go-tpm/tpm2"
)

// Magic and Version open every blob (tpm2-tools' file header).
const (
	Magic   = 0xBADCC0DE
	Version = 1
)

// maxSecret bounds the secret: ActivateCredential returns it as a
// TPM2B_DIGEST, which holds at most the largest digest (TPM 2.0 Part 2,
// 10.4.2).
const maxSecret = 64

// ErrFormat is returned by Parse for bytes that are not a credential
// blob.
var ErrFormat = errors.New("not a tpm2-tools credential blob")

// Blob is a parsed credential: the two outputs of TPM2_MakeCredential.
type Blob struct {
	// IDObject is the TPM2B_ID_OBJECT's contents: an HMAC (as a
	// TPM2B_DIGEST) and the encrypted identity.
	IDObject []byte
	// EncryptedSecret is the TPM2B_ENCRYPTED_SECRET's contents: the seed,
	// encrypted to the EK.
	EncryptedSecret []byte
}

// Make makes a credential for the EK whose TPMT_PUBLIC is ekPublic and
// the object named akName (a TPM2B_NAME's contents: algorithm and
// digest), which only the TPM holding both can open with
// TPM2_ActivateCredential to recover secret. The EK must be a restricted
// decryption key (a storage key, as TCG's EK templates make it);
// randomness comes from crypto/rand.
func Make(ekPublic, akName, secret []byte) ([]byte, error) {
	return MakeWithRand(rand.Reader, ekPublic, akName, secret)
}

// MakeWithRand is Make with the seed's randomness from r.
func MakeWithRand(r io.Reader, ekPublic, akName, secret []byte) ([]byte, error) {
	if len(secret) == 0 || len(secret) > maxSecret {
		return nil, fmt.Errorf("making credential: secret of %d bytes, want 1 to %d", len(secret), maxSecret)
	}
	if err := checkName(akName); err != nil {
		return nil, fmt.Errorf("making credential: %w", err)
	}
	ek, err := tpm2.Unmarshal[tpm2.TPMTPublic](ekPublic)
	if err != nil {
		return nil, fmt.Errorf("making credential: reading EK public area: %w", err)
	}
	if a := ek.ObjectAttributes; !a.Restricted || !a.Decrypt || a.SignEncrypt {
		return nil, errors.New("making credential: the EK is not a restricted decryption key")
	}
	key, err := tpm2.ImportEncapsulationKey(ek)
	if err != nil {
		return nil, fmt.Errorf("making credential: EK: %w", err)
	}
	id, seed, err := tpm2.CreateCredential(r, key, akName, secret)
	if err != nil {
		return nil, fmt.Errorf("making credential: %w", err)
	}
	return Blob{IDObject: id, EncryptedSecret: seed}.Bytes(), nil
}

// checkName accepts a TPM2B_NAME's contents that name an object: a hash
// algorithm and a digest of its size (TPM 2.0 Part 1, 16).
func checkName(name []byte) error {
	if len(name) < 2 {
		return errors.New("AK name too short")
	}
	h, err := tpm2.TPMIAlgHash(binary.BigEndian.Uint16(name)).Hash()
	if err != nil {
		return fmt.Errorf("AK name: %w", err)
	}
	if len(name)-2 != h.Size() {
		return fmt.Errorf("AK name: %d-byte digest for %v", len(name)-2, h)
	}
	return nil
}

// Bytes encodes b in tpm2-tools' file format.
func (b Blob) Bytes() []byte {
	out := binary.BigEndian.AppendUint32(nil, Magic)
	out = binary.BigEndian.AppendUint32(out, Version)
	out = binary.BigEndian.AppendUint16(out, uint16(len(b.IDObject)))
	out = append(out, b.IDObject...)
	out = binary.BigEndian.AppendUint16(out, uint16(len(b.EncryptedSecret)))
	return append(out, b.EncryptedSecret...)
}

// Parse reads a blob in tpm2-tools' file format. Trailing bytes are an
// error, so that Parse(b).Bytes() is b.
func Parse(b []byte) (Blob, error) {
	if len(b) < 8 || binary.BigEndian.Uint32(b) != Magic {
		return Blob{}, fmt.Errorf("%w: bad magic", ErrFormat)
	}
	if v := binary.BigEndian.Uint32(b[4:]); v != Version {
		return Blob{}, fmt.Errorf("%w: version %d", ErrFormat, v)
	}
	rest := b[8:]
	id, rest, err := sized(rest)
	if err != nil {
		return Blob{}, fmt.Errorf("%w: TPM2B_ID_OBJECT: %v", ErrFormat, err)
	}
	seed, rest, err := sized(rest)
	if err != nil {
		return Blob{}, fmt.Errorf("%w: TPM2B_ENCRYPTED_SECRET: %v", ErrFormat, err)
	}
	if len(rest) != 0 {
		return Blob{}, fmt.Errorf("%w: %d trailing bytes", ErrFormat, len(rest))
	}
	if len(id) == 0 || len(seed) == 0 {
		return Blob{}, fmt.Errorf("%w: empty part", ErrFormat)
	}
	return Blob{IDObject: id, EncryptedSecret: seed}, nil
}

// sized splits a uint16-size-prefixed field off b.
func sized(b []byte) (field, rest []byte, err error) {
	if len(b) < 2 {
		return nil, nil, errors.New("truncated size")
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b)-2 < n {
		return nil, nil, fmt.Errorf("size %d, %d bytes left", n, len(b)-2)
	}
	return b[2 : 2+n : 2+n], b[2+n:], nil
}

// secretSize is the size of the secrets NewChallenge makes: a SHA-256
// digest's, which every EK's name algorithm holds.
const secretSize = 32

// NewChallenge makes a fresh random secret and its credential for the EK
// and AK, and returns the blob to send and the digest to keep: the
// secret itself is not returned, so a verifier cannot leak it (unlike
// the flow that hands it out beside the credential, where an agent can
// skip ActivateCredential).
func NewChallenge(ekPublic, akName []byte) (blob []byte, digest [sha256.Size]byte, err error) {
	secret := make([]byte, secretSize)
	if _, err := rand.Read(secret); err != nil {
		return nil, digest, fmt.Errorf("making credential: %w", err)
	}
	if blob, err = Make(ekPublic, akName, secret); err != nil {
		return nil, digest, err
	}
	return blob, Digest(secret), nil
}

// Digest is what a verifier keeps of a secret it sent: its SHA-256, never
// the secret itself.
func Digest(secret []byte) [sha256.Size]byte { return sha256.Sum256(secret) }

// Matches reports, in constant time, whether secret is the one whose
// Digest is d.
func Matches(d [sha256.Size]byte, secret []byte) bool {
	got := sha256.Sum256(secret)
	return subtle.ConstantTimeCompare(got[:], d[:]) == 1
}
