// Package channel is the secure channel between one client process and
// tepd: a Noise handshake at C_Initialize, then AEAD-sealed message bodies
// bound to the client's keys.
//
// The handshake is Noise_NX_25519_AESGCM_SHA256 (the Noise Protocol
// Framework, revision 34): one round trip in which the client sends an
// ephemeral key and the server answers with its ephemeral key and, already
// encrypted, its static key, which the client may check against a pinned
// one. The prologue is a fixed label and the client's routing id, so a
// handshake made for one id cannot be replayed under another.
//
// After the handshake each side holds Keys: one AEAD key per direction.
// Every message is sealed with an explicit 64-bit nonce, the call's
// sequence number, and the wire header as associated data. The wire
// carries only the nonce's low 32 bits; a receiver rebuilds the full value
// from the last one it accepted and takes only values ahead of it (the
// extended sequence numbers of IPsec ESP, RFC 4303, 2.2.1). A reply uses
// its request's nonce under the other direction's key, so no nonce is ever
// used twice under one key.
//
// The package does no I/O. Concurrency: a ClientHandshake and Keys are not
// safe for concurrent use; their owner serialises calls (the client's port
// lock, the server's per-client lock). StaticKey and PublicKey are values.
package channel
