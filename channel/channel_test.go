package channel

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/flynn/noise"
)

const testID = 0x1122334455667788

// pair runs a handshake for testID and returns the client's and the
// server's keys.
func pair(t testing.TB) (client, server *Keys, key *StaticKey) {
	t.Helper()
	key, err := GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	pub := key.Public()
	h, msg1, err := StartClient(testID, &pub, nil)
	if err != nil {
		t.Fatal(err)
	}
	msg2, server, err := Accept(key, testID, msg1, []byte("lease"), nil)
	if err != nil {
		t.Fatal(err)
	}
	client, got, payload, err := h.Finish(msg2)
	if err != nil {
		t.Fatal(err)
	}
	if got != pub || string(payload) != "lease" {
		t.Fatalf("Finish = key %s payload %q, want %s %q", got, payload, pub, "lease")
	}
	return client, server, key
}

func TestRoundTrip(t *testing.T) {
	client, server, _ := pair(t)
	for _, body := range [][]byte{nil, {0xc0}, bytes.Repeat([]byte{7}, 300), bytes.Repeat([]byte{9}, 70000)} {
		hdr := []byte("request header")
		sealed := client.Seal(nil, hdr, 1+server.last, 42, body)
		if bytes.Contains(sealed, body) && len(body) > 4 {
			t.Fatal("body in clear in the sealed form")
		}
		n, fn, got, err := server.OpenNext(hdr, uint32(1+server.last), sealed)
		if err != nil || fn != 42 || !bytes.Equal(got, body) {
			t.Fatalf("OpenNext = %d %v (%d bytes), want 42 and the %d bytes sealed", fn, err, len(got), len(body))
		}
		reply := server.Seal(nil, []byte("reply header"), n, 42, []byte{0x93, 1, 2, 3})
		fn, got, err = client.Open([]byte("reply header"), n, reply)
		if err != nil || fn != 42 || !bytes.Equal(got, []byte{0x93, 1, 2, 3}) {
			t.Fatalf("Open(reply) = %d % x %v", fn, got, err)
		}
	}
}

// TestTamper changes every byte of the header and the sealed body in turn:
// none opens.
func TestTamper(t *testing.T) {
	client, server, _ := pair(t)
	hdr := []byte{0x96, 0x02, 0x00, 0xcd, 0xff, 0xf2, 0xcf, 1, 2, 3, 4, 5, 6, 7, 8, 0x01}
	sealed := client.Seal(nil, hdr, 1, 7, []byte{0x92, 0x01, 0x02})
	for i := range len(hdr) + len(sealed) {
		h, s := bytes.Clone(hdr), bytes.Clone(sealed)
		if i < len(h) {
			h[i] ^= 0x01
		} else {
			s[i-len(h)] ^= 0x80
		}
		if _, _, err := server.Open(h, 1, s); err == nil {
			t.Fatalf("Open with byte %d changed succeeded", i)
		}
	}
	if _, _, err := server.Open(hdr, 2, bytes.Clone(sealed)); !errors.Is(err, ErrOpen) {
		t.Errorf("Open under another nonce = %v, want ErrOpen", err)
	}
	if _, _, err := client.Open(hdr, 1, bytes.Clone(sealed)); !errors.Is(err, ErrOpen) {
		t.Errorf("Open under the sender's own key = %v, want ErrOpen", err)
	}
	other, _, _ := pair(t)
	if _, _, err := other.Open(hdr, 1, bytes.Clone(sealed)); !errors.Is(err, ErrOpen) {
		t.Errorf("Open under another client's keys = %v, want ErrOpen", err)
	}
	if _, _, err := server.Open(hdr, 1, bytes.Clone(sealed)); err != nil {
		t.Errorf("Open of the untouched message = %v", err)
	}
}

func TestReplay(t *testing.T) {
	client, server, _ := pair(t)
	hdr := []byte("h")
	for _, n := range []uint64{1, 2, 5} {
		if _, _, _, err := server.OpenNext(hdr, uint32(n), client.Seal(nil, hdr, n, 1, nil)); err != nil {
			t.Fatalf("OpenNext(%d) = %v", n, err)
		}
	}
	for _, n := range []uint64{5, 4, 1} {
		if _, _, _, err := server.OpenNext(hdr, uint32(n), client.Seal(nil, hdr, n, 1, nil)); !errors.Is(err, ErrReplay) {
			t.Errorf("OpenNext(%d) after 5 = %v, want ErrReplay", n, err)
		}
	}
	// A forged body does not move the window: the real 6 still opens.
	if _, _, _, err := server.OpenNext(hdr, 6, client.Seal(nil, []byte("x"), 6, 1, nil)); !errors.Is(err, ErrOpen) {
		t.Errorf("OpenNext of a forgery = %v, want ErrOpen", err)
	}
	if _, _, _, err := server.OpenNext(hdr, 6, client.Seal(nil, hdr, 6, 1, nil)); err != nil {
		t.Errorf("OpenNext(6) after a forged 6 = %v", err)
	}
}

// TestWrap crosses 2^32: the wire's 32-bit sequence number wraps, the
// nonce does not.
func TestWrap(t *testing.T) {
	client, server, _ := pair(t)
	server.last = 1<<32 - 3
	hdr := []byte("h")
	for n := uint64(1<<32 - 2); n < 1<<32+3; n++ {
		got, _, _, err := server.OpenNext(hdr, uint32(n), client.Seal(nil, hdr, n, 1, nil))
		if err != nil || got != n {
			t.Fatalf("OpenNext(seq %d) = nonce %d, %v; want %d", uint32(n), got, err, n)
		}
	}
	// The same low bits under the old high half are a replay.
	if _, _, _, err := server.OpenNext(hdr, 0, client.Seal(nil, hdr, 1<<32, 1, nil)); !errors.Is(err, ErrReplay) {
		t.Errorf("OpenNext(seq 0) again = %v, want ErrReplay", err)
	}
}

func TestExtend(t *testing.T) {
	for _, tt := range []struct {
		last uint64
		seq  uint32
		want uint64
		ok   bool
	}{
		{0, 1, 1, true},
		{0, 0, 0, false},
		{0, 1 << 31, 1 << 31, true},
		{0, 1<<31 + 1, 0, false},
		{5, 5, 0, false},
		{5, 4, 0, false},
		{1<<32 - 1, 0, 1 << 32, true},
		{1<<32 + 7, 7, 0, false},
		{1<<32 + 7, 8, 1<<32 + 8, true},
		{3<<32 - 10, 5, 3<<32 + 5, true},
		{1<<64 - 1, 0, 0, false},
		{1<<64 - 2, 0xffffffff, 1<<64 - 1, true},
	} {
		got, ok := Extend(tt.last, tt.seq)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Extend(%#x, %#x) = %#x %v, want %#x %v", tt.last, tt.seq, got, ok, tt.want, tt.ok)
		}
	}
}

func TestPinnedMismatch(t *testing.T) {
	key, _ := GenerateKey(nil)
	other, _ := GenerateKey(nil)
	pinned := other.Public()
	h, msg1, err := StartClient(testID, &pinned, nil)
	if err != nil {
		t.Fatal(err)
	}
	msg2, _, err := Accept(key, testID, msg1, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, got, _, err := h.Finish(msg2)
	if !errors.Is(err, ErrServerKeyMismatch) {
		t.Fatalf("Finish with another pinned key = %v, want ErrServerKeyMismatch", err)
	}
	if got != key.Public() {
		t.Errorf("Finish reports server key %s, want %s", got, key.Public())
	}
	for _, fp := range []string{key.Public().Fingerprint(), pinned.Fingerprint()} {
		if !strings.Contains(err.Error(), fp) {
			t.Errorf("error %q does not name fingerprint %s", err, fp)
		}
	}
}

// TestHandshakeBinding: a handshake made for one id does not finish for
// another, and a forged answer leaves the handshake waiting for the real
// one.
func TestHandshakeBinding(t *testing.T) {
	key, _ := GenerateKey(nil)
	h, msg1, _ := StartClient(testID, nil, nil)
	wrong, _, err := Accept(key, testID+1, msg1, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := h.Finish(wrong); !errors.Is(err, ErrHandshake) {
		t.Fatalf("Finish of an answer for another id = %v, want ErrHandshake", err)
	}
	if _, _, _, err := h.Finish(bytes.Repeat([]byte{1}, 96)); !errors.Is(err, ErrHandshake) {
		t.Fatalf("Finish of garbage = %v, want ErrHandshake", err)
	}
	right, _, err := Accept(key, testID, msg1, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, got, _, err := h.Finish(right); err != nil || got != key.Public() {
		t.Fatalf("Finish of the real answer after forgeries = %s, %v", got, err)
	}
	if _, _, err := Accept(key, testID, append(bytes.Clone(msg1), 1), nil, nil); !errors.Is(err, ErrHandshake) {
		t.Errorf("Accept of a first message with a payload = %v, want ErrHandshake", err)
	}
}

func TestKeyEncoding(t *testing.T) {
	key, _ := GenerateKey(nil)
	b, _ := key.MarshalBinary()
	var back StaticKey
	if err := back.UnmarshalBinary(b); err != nil || back.Public() != key.Public() {
		t.Fatalf("UnmarshalBinary(MarshalBinary) = %s, %v; want %s", back.Public(), err, key.Public())
	}
	if err := back.UnmarshalBinary(b[1:]); !errors.Is(err, ErrBadKey) {
		t.Errorf("UnmarshalBinary(31 bytes) = %v, want ErrBadKey", err)
	}
	p, err := ParsePublicKey(" " + key.Public().String() + "\n")
	if err != nil || p != key.Public() {
		t.Fatalf("ParsePublicKey(String) = %s, %v", p, err)
	}
	for _, bad := range []string{"", "abc", key.Public().String()[:40], key.Public().String() + "AAAA"} {
		if _, err := ParsePublicKey(bad); !errors.Is(err, ErrBadKey) {
			t.Errorf("ParsePublicKey(%q) = %v, want ErrBadKey", bad, err)
		}
	}
}

// TestNoiseNonce checks that Keys seal exactly as the noise package's own
// Cipher does with an explicit nonce: the nonce layout is Noise's.
func TestNoiseNonce(t *testing.T) {
	var k [32]byte
	k[0] = 1
	cs := noise.UnsafeNewCipherState(suite, k, 0)
	keys := &Keys{send: gcmOf(k), recv: gcmOf(k)}
	const n = 1<<40 + 3
	want := cs.Cipher().Encrypt(nil, n, []byte("ad"), []byte{0, 9, 0xc0})
	got := keys.Seal(nil, []byte("ad"), n, 9, []byte{0xc0})
	if ct, _ := Bin(got); !bytes.Equal(ct, want) {
		t.Errorf("Seal = % x, noise's Encrypt = % x", ct, want)
	}
}
