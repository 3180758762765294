package device

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"tep.dev/tep/provisioning"
	"tep.dev/tep/tpm"
)

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func importKey(t testing.TB, f *fixture, key []byte) {
	t.Helper()
	if changed, err := ImportAESKey(f.t, key, true); err != nil || !changed {
		t.Fatalf("ImportAESKey = %v, %v", changed, err)
	}
}

// NewCTR against crypto/cipher's CTR with the same key, in calls of
// awkward sizes (parts of a block, several of the TPM's pieces), in the
// TPM's CTR mode and in the keystream from ECB, from an IV whose counter
// wraps.
func TestCTR(t *testing.T) {
	f := newFixture(t)
	sizes := []int{1, 15, 17, 0, 16, 4096, 3001, 33, 2 * f.t.MaxBuffer(), 5}
	total := 0
	for _, n := range sizes {
		total += n
	}
	for _, keyLen := range []int{16, 32} {
		key := randomBytes(t, keyLen)
		importKey(t, f, key)
		for _, ecb := range []bool{false, true} {
			for _, iv := range [][]byte{randomBytes(t, 16), bytes.Repeat([]byte{0xff}, 16)} {
				t.Run(fmt.Sprintf("AES-%d/ecb=%v/iv=%x", 8*keyLen, ecb, iv[:2]), func(t *testing.T) {
					s, err := newCTR(f.t, iv, ecb)
					if err != nil {
						t.Fatal(err)
					}
					if s.ecb != ecb {
						t.Fatalf("stream uses ECB = %v, want %v (does swtpm lack CTR?)", s.ecb, ecb)
					}
					block, _ := aes.NewCipher(key)
					want := cipher.NewCTR(block, iv)
					src := randomBytes(t, total)
					got := bytes.Clone(src) // in place, as callers may
					off := 0
					for _, n := range sizes {
						s.XORKeyStream(got[off:off+n], got[off:off+n])
						off += n
					}
					if err := s.Err(); err != nil {
						t.Fatal(err)
					}
					exp := make([]byte, total)
					want.XORKeyStream(exp, src)
					if !bytes.Equal(got, exp) {
						t.Fatalf("NewCTR's output differs from crypto/cipher's (first at byte %d)", firstDiff(got, exp))
					}
				})
			}
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestCTRNotProvisioned(t *testing.T) {
	f := newFixture(t)
	_, err := NewCTR(f.t, make([]byte, 16))
	if !errors.Is(err, ErrNotProvisioned) || !strings.Contains(err.Error(), "tep-provision device") || !strings.Contains(err.Error(), "0x8100a000") {
		t.Fatalf("NewCTR with no key = %v, want ErrNotProvisioned naming the handle and tep-provision device", err)
	}
	if _, err := NewCTR(f.t, make([]byte, 8)); err == nil {
		t.Fatal("NewCTR with an 8-byte IV succeeded")
	}
}

// A key that goes away mid-stream: the stream stops, zeroes what it
// cannot encrypt, and says why.
func TestCTRFailure(t *testing.T) {
	f := newFixture(t)
	importKey(t, f, randomBytes(t, 32))
	s, err := NewCTR(f.t, make([]byte, 16))
	if err != nil {
		t.Fatal(err)
	}
	buf := bytes.Repeat([]byte{1}, 100)
	s.XORKeyStream(buf, buf)
	if err := evict(f.t, provisioning.AESKeyHandle); err != nil {
		t.Fatal(err)
	}
	buf = bytes.Repeat([]byte{1}, 100)
	s.XORKeyStream(buf, buf)
	err = s.(*CTR).Err()
	if !errors.Is(err, tpm2.TPMRCHandle) {
		t.Fatalf("Err after the key was evicted = %v, want TPM_RC_HANDLE", err)
	}
	if !bytes.Equal(buf, make([]byte, 100)) {
		t.Fatal("a failed XORKeyStream left data in its output")
	}
	if _, err := NewCTR(f.t, make([]byte, 16)); !errors.Is(err, ErrNotProvisioned) {
		t.Fatalf("NewCTR with the key evicted = %v, want ErrNotProvisioned", err)
	}
}

func TestCTRShortOutput(t *testing.T) {
	f := newFixture(t)
	importKey(t, f, randomBytes(t, 16))
	s, err := NewCTR(f.t, make([]byte, 16))
	if err != nil {
		t.Fatal(err)
	}
	s.XORKeyStream(make([]byte, 3), make([]byte, 4))
	if s.(*CTR).Err() == nil {
		t.Fatal("XORKeyStream into a short output set no error")
	}
}

func TestImportAESKey(t *testing.T) {
	f := newFixture(t)
	key := randomBytes(t, 32)
	if changed, err := ImportAESKey(f.t, key, false); err != nil || !changed {
		t.Fatalf("ImportAESKey = %v, %v", changed, err)
	}
	if changed, err := ImportAESKey(f.t, bytes.Clone(key), false); err != nil || changed {
		t.Fatalf("ImportAESKey again = %v, %v, want false, nil", changed, err)
	}
	fp, _ := AESFingerprint(key)
	got, err := AESKeyFingerprint(f.t)
	if err != nil || got != fp {
		t.Fatalf("AESKeyFingerprint = %x, %v, want %x", got, err, fp)
	}
	other := randomBytes(t, 32)
	_, err = ImportAESKey(f.t, other, false)
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "0x8100a000") || !strings.Contains(err.Error(), hexOf(fp[:])) {
		t.Fatalf("ImportAESKey(another key) = %v, want ErrConflict naming the handle and %x", err, fp)
	}
	if changed, err := ImportAESKey(f.t, other, true); err != nil || !changed {
		t.Fatalf("ImportAESKey --replace = %v, %v", changed, err)
	}
	ofp, _ := AESFingerprint(other)
	if got, err := AESKeyFingerprint(f.t); err != nil || got != ofp {
		t.Fatalf("after --replace AESKeyFingerprint = %x, %v, want %x", got, err, ofp)
	}
	if _, err := ImportAESKey(f.t, randomBytes(t, 7), true); err == nil {
		t.Fatal("ImportAESKey of 7 bytes succeeded")
	}
}

// The embedded simulator, which make demo provisions, runs the same
// stream.
func TestCTRSimulator(t *testing.T) {
	tp, err := tpm.Open("sim", "")
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	key := randomBytes(t, 32)
	if _, err := ImportAESKey(tp, key, false); err != nil {
		t.Fatal(err)
	}
	iv := randomBytes(t, 16)
	s, err := NewCTR(tp, iv)
	if err != nil {
		t.Fatal(err)
	}
	src := randomBytes(t, 3*tp.MaxBuffer()+7)
	got := make([]byte, len(src))
	s.XORKeyStream(got, src)
	block, _ := aes.NewCipher(key)
	want := make([]byte, len(src))
	cipher.NewCTR(block, iv).XORKeyStream(want, src)
	if err := s.(*CTR).Err(); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("NewCTR on the simulator: %v, output equal %v", err, bytes.Equal(got, want))
	}
}
