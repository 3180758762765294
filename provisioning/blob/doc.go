// Package blob is the signed and encrypted configuration blob of
// tep-config: its binary format (docs/config-blob.md), Seal on the host,
// which needs no TPM, and Parse, Verify and Decrypt on the device.
//
// A blob is a fixed header (magic, version, mode, signature algorithm,
// epoch, the SHA-256 fingerprint of the signer's SubjectPublicKeyInfo), the
// IV (aes mode) or the host's ephemeral public key (ecdh mode), the
// ciphertext, and an ECDSA signature over every byte before it, followed by
// the signature's length. The device verifies before it decrypts: Decrypt
// takes a *Verified, which only Verify makes.
//
// In aes mode the content is AES-CTR under the device's symmetric key
// (whose size, 128 or 256 bits, is the key's own); its plaintext starts
// with a fixed 16-byte marker, so a blob sealed for another device's key
// fails at its first block instead of yielding garbage. In ecdh mode the
// host makes an ephemeral key on the device key's curve; HKDF-SHA256 of
// the shared secret gives an AES-256-GCM key, and the bytes before the
// ciphertext are GCM's additional data.
//
// Everything here is stateless and safe for concurrent use; the
// Decrypter is the caller's (a TPM on the device, a software key in tests).
package blob
