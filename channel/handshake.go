package channel

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/flynn/noise"
)

// protocolLabel starts every handshake's prologue: it names this use of
// the Noise protocol, so a handshake transcript from another protocol that
// happens to use the same pattern can never be taken for a TEP one.
const protocolLabel = "TEP channel v1"

// suite is Noise_NX_25519_AESGCM_SHA256's set of primitives.
var suite = noise.NewCipherSuite(noise.DH25519, noise.CipherAESGCM, noise.HashSHA256)

// MaxHandshakeMessage bounds a handshake message with its payload: NX's
// second message is two keys and two tags (96 bytes) plus the payload.
const MaxHandshakeMessage = 1024

// prologue binds a handshake to the client's routing id.
func prologue(id uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(protocolLabel), id)
}

// ClientHandshake is a client's handshake in progress.
type ClientHandshake struct {
	hs     *noise.HandshakeState
	pinned *PublicKey
}

// StartClient begins a handshake for client id and returns it with the
// first message to send. If pinned is not nil, Finish accepts only a
// server holding that key. rand nil means crypto/rand.
func StartClient(id uint64, pinned *PublicKey, rand io.Reader) (*ClientHandshake, []byte, error) {
	hs, err := noise.NewHandshakeState(noise.Config{
		CipherSuite: suite, Random: rand, Pattern: noise.HandshakeNX,
		Initiator: true, Prologue: prologue(id),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("starting a handshake: %w", err)
	}
	msg1, _, _, err := hs.WriteMessage(nil, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("writing the first handshake message: %w", err)
	}
	h := &ClientHandshake{hs: hs}
	if pinned != nil {
		p := *pinned
		h.pinned = &p
	}
	return h, msg1, nil
}

// Finish reads the server's answer msg2 and returns the client's keys, the
// server's static key and the payload the server sent. A msg2 that does
// not authenticate leaves h as it was, so the caller may wait for another
// (a forged answer must not end a handshake); an authentic one from a
// server whose key is not the pinned one is ErrServerKeyMismatch.
func (h *ClientHandshake) Finish(msg2 []byte) (*Keys, PublicKey, []byte, error) {
	var server PublicKey
	if len(msg2) > MaxHandshakeMessage {
		return nil, server, nil, fmt.Errorf("%w: message of %d bytes", ErrHandshake, len(msg2))
	}
	payload, send, recv, err := h.hs.ReadMessage(nil, msg2)
	if err != nil || send == nil || recv == nil {
		return nil, server, nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	copy(server[:], h.hs.PeerStatic())
	if h.pinned != nil && !bytes.Equal(server[:], h.pinned[:]) {
		return nil, server, nil, fmt.Errorf("%w: the server presented %s (%s), the pinned key is %s (%s)",
			ErrServerKeyMismatch, server.Fingerprint(), server, h.pinned.Fingerprint(), h.pinned)
	}
	return newKeys(send, recv), server, payload, nil
}

// Accept answers a client's first handshake message msg1 for client id
// with the server's static key, sending payload (at most a few hundred
// bytes) in the answer, and returns the answer and the server's keys.
// rand nil means crypto/rand.
func Accept(key *StaticKey, id uint64, msg1, payload []byte, rand io.Reader) ([]byte, *Keys, error) {
	if len(msg1) > MaxHandshakeMessage || len(payload) > MaxHandshakeMessage-128 {
		return nil, nil, fmt.Errorf("%w: message of %d bytes, payload of %d", ErrHandshake, len(msg1), len(payload))
	}
	hs, err := noise.NewHandshakeState(noise.Config{
		CipherSuite: suite, Random: rand, Pattern: noise.HandshakeNX,
		Prologue: prologue(id), StaticKeypair: key.dhKey(),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("accepting a handshake: %w", err)
	}
	// NX's first message is the client's ephemeral key and nothing else:
	// a payload would travel unencrypted, so none is accepted.
	if p, _, _, err := hs.ReadMessage(nil, msg1); err != nil || len(p) != 0 {
		return nil, nil, fmt.Errorf("%w: first message: %v", ErrHandshake, err)
	}
	msg2, recv, send, err := hs.WriteMessage(nil, payload)
	if err != nil || recv == nil || send == nil {
		return nil, nil, fmt.Errorf("%w: writing the answer: %v", ErrHandshake, err)
	}
	return msg2, newKeys(send, recv), nil
}
