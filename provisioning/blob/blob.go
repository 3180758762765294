package blob

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// Magic opens every blob; Version is the only version this package reads.
const (
	Magic   = "TEPB"
	Version = 1
)

// Mode is how a blob's content is encrypted.
type Mode uint8

// The modes.
const (
	// ModeAES is AES-CTR under the device's symmetric key at
	// provisioning.AESKeyHandle, with a random IV.
	ModeAES Mode = 1
	// ModeECDH is AES-256-GCM under a key agreed by ephemeral ECDH with
	// the device key at provisioning.DeviceKeyHandle.
	ModeECDH Mode = 2
)

func (m Mode) String() string {
	switch m {
	case ModeAES:
		return "aes"
	case ModeECDH:
		return "ecdh"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// SigAlg is the signature's curve and hash.
type SigAlg uint8

// The signature algorithms: ECDSA with the hash that matches the curve.
const (
	SigP256SHA256 SigAlg = 1
	SigP384SHA384 SigAlg = 2
)

func (s SigAlg) String() string {
	switch s {
	case SigP256SHA256:
		return "ecdsa-p256-sha256"
	case SigP384SHA384:
		return "ecdsa-p384-sha384"
	}
	return fmt.Sprintf("SigAlg(%d)", uint8(s))
}

// Layout sizes (docs/config-blob.md).
const (
	// fixedLen is magic, version, mode, sigalg, flags, epoch, fingerprint
	// and the key field's length.
	fixedLen = 4 + 1 + 1 + 1 + 1 + 8 + sha256.Size + 2
	// IVSize is the aes mode's IV: one AES block.
	IVSize = 16
	// minCiphertext is the marker (aes) or the GCM tag (ecdh).
	minCiphertext = 16
	// maxSig bounds a DER ECDSA signature on P-384 (two 49-byte INTEGERs
	// and their headers) with room to spare.
	maxSig = 2*(2+49) + 3
	minSig = 8
)

// Blob is a parsed blob. Its fields alias the bytes it was parsed from.
type Blob struct {
	Mode   Mode
	SigAlg SigAlg
	// Epoch is the rollback counter value the blob carries; a device
	// applies it only above the last epoch it applied.
	Epoch uint64
	// Signer is the SHA-256 fingerprint of the signer's DER
	// SubjectPublicKeyInfo.
	Signer [sha256.Size]byte
	// Key is the IV (aes) or the host's ephemeral public key, an
	// uncompressed point (ecdh).
	Key        []byte
	Ciphertext []byte
	// Signature is ASN.1 DER ECDSA over Signed().
	Signature []byte

	raw []byte
}

// Signed returns the bytes the signature covers: everything before it.
func (b *Blob) Signed() []byte { return b.raw[:len(b.raw)-2-len(b.Signature)] }

// aad returns the bytes before the ciphertext: GCM's additional data.
func (b *Blob) aad() []byte { return b.raw[:fixedLen+len(b.Key)+8] }

// header encodes everything before the ciphertext.
func header(mode Mode, alg SigAlg, epoch uint64, signer [sha256.Size]byte, key []byte, ctLen int) []byte {
	h := make([]byte, 0, fixedLen+len(key)+8)
	h = append(h, Magic...)
	h = append(h, Version, byte(mode), byte(alg), 0)
	h = binary.BigEndian.AppendUint64(h, epoch)
	h = append(h, signer[:]...)
	h = binary.BigEndian.AppendUint16(h, uint16(len(key)))
	h = append(h, key...)
	return binary.BigEndian.AppendUint64(h, uint64(ctLen))
}

// Marshal encodes b; for a parsed blob it returns the parsed bytes.
func (b *Blob) Marshal() []byte {
	out := header(b.Mode, b.SigAlg, b.Epoch, b.Signer, b.Key, len(b.Ciphertext))
	out = append(out, b.Ciphertext...)
	out = append(out, b.Signature...)
	return binary.BigEndian.AppendUint16(out, uint16(len(b.Signature)))
}

// Parse parses a blob strictly: every field must hold a value this
// version defines and the lengths must account for every byte. It checks
// no signature (Verify does).
func Parse(raw []byte) (*Blob, error) {
	b, err := parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	return b, nil
}

func parse(raw []byte) (*Blob, error) {
	if len(raw) < fixedLen {
		return nil, fmt.Errorf("%d bytes, shorter than the %d-byte header", len(raw), fixedLen)
	}
	if !bytes.Equal(raw[:4], []byte(Magic)) {
		return nil, fmt.Errorf("magic %q, want %q", raw[:4], Magic)
	}
	if raw[4] != Version {
		return nil, fmt.Errorf("version %d, want %d", raw[4], Version)
	}
	b := &Blob{Mode: Mode(raw[5]), SigAlg: SigAlg(raw[6]), raw: raw}
	if raw[7] != 0 {
		return nil, fmt.Errorf("flags %#x, want 0", raw[7])
	}
	b.Epoch = binary.BigEndian.Uint64(raw[8:])
	copy(b.Signer[:], raw[16:])
	if b.SigAlg != SigP256SHA256 && b.SigAlg != SigP384SHA384 {
		return nil, fmt.Errorf("unknown signature algorithm %d", raw[6])
	}
	keyLen := int(binary.BigEndian.Uint16(raw[fixedLen-2:]))
	if err := checkKeyLen(b.Mode, keyLen); err != nil {
		return nil, err
	}
	rest := raw[fixedLen:]
	if len(rest) < keyLen+8 {
		return nil, fmt.Errorf("truncated in the key field")
	}
	b.Key, rest = rest[:keyLen], rest[keyLen:]
	ctLen := binary.BigEndian.Uint64(rest)
	rest = rest[8:]
	if ctLen < minCiphertext || ctLen > uint64(len(rest)) {
		return nil, fmt.Errorf("ciphertext length %d out of range (%d bytes left)", ctLen, len(rest))
	}
	b.Ciphertext, rest = rest[:ctLen], rest[ctLen:]
	if len(rest) < 2 {
		return nil, fmt.Errorf("truncated before the signature length")
	}
	sigLen := int(binary.BigEndian.Uint16(rest[len(rest)-2:]))
	if sigLen < minSig || sigLen > maxSig || sigLen != len(rest)-2 {
		return nil, fmt.Errorf("signature length %d, with %d bytes for it", sigLen, len(rest)-2)
	}
	b.Signature = rest[:sigLen]
	return b, nil
}

// checkKeyLen checks the key field's length against the mode.
func checkKeyLen(m Mode, n int) error {
	switch {
	case m == ModeAES && n == IVSize:
		return nil
	case m == ModeECDH && (n == 65 || n == 97):
		return nil // uncompressed P-256 or P-384 point
	case m != ModeAES && m != ModeECDH:
		return fmt.Errorf("unknown mode %d", uint8(m))
	}
	return fmt.Errorf("key field of %d bytes in %v mode", n, m)
}
