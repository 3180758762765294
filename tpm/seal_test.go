package tpm

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

func TestGetRandom(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *TPM, _ target) {
		for _, n := range []int{0, 1, 32, 1000} {
			a, err := tp.GetRandom(n)
			if err != nil || len(a) != n {
				t.Fatalf("GetRandom(%d) = %d bytes, %v, want %d bytes", n, len(a), err, n)
			}
			b, err := tp.GetRandom(n)
			if err != nil {
				t.Fatalf("GetRandom(%d) = %v", n, err)
			}
			// Two draws of 32 or more bytes never collide; one byte can.
			if n >= 32 && bytes.Equal(a, b) {
				t.Errorf("two GetRandom(%d) returned the same bytes", n)
			}
		}
		if _, err := tp.GetRandom(-1); err == nil {
			t.Error("GetRandom(-1) succeeded, want error")
		}
	})
}

func TestStirRandom(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *TPM, _ target) {
		for _, n := range []int{0, 100, 128, 129, 1000} {
			if err := tp.StirRandom(bytes.Repeat([]byte{0xA5}, n)); err != nil {
				t.Errorf("StirRandom(%d bytes) = %v", n, err)
			}
		}
	})
}

// auths covers the auth values whose zero bytes go-tpm v0.9.8 mishandles.
var auths = []struct {
	name string
	auth []byte
}{
	{"empty", nil},
	{"digest", bytes.Repeat([]byte{0x5c}, 32)},
	{"interior zero", []byte{1, 2, 0, 4, 5}},
	{"leading zero", []byte{0, 9, 9}},
	{"trailing zeros", []byte{7, 7, 0, 0}},
	{"all zero", make([]byte, 32)},
}

func TestSealUnseal(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *TPM, _ target) {
		relaxDA(t, tp)
		for _, a := range auths {
			secret := []byte("secret for " + a.name)
			s, err := tp.Seal(secret, a.auth)
			if err != nil {
				t.Fatalf("%s: Seal() = %v", a.name, err)
			}
			got, err := tp.Unseal(s, a.auth)
			if err != nil || !bytes.Equal(got, secret) {
				t.Errorf("%s: Unseal(right auth) = %q, %v, want %q", a.name, got, err, secret)
			}
			wrong := append(bytes.Clone(a.auth), 1)
			_, err = tp.Unseal(s, wrong)
			if !errors.Is(err, ErrAuthFail) || !errors.Is(err, tpm2.TPMRCAuthFail) {
				t.Errorf("%s: Unseal(wrong auth) = %v, want ErrAuthFail and TPM_RC_AUTH_FAIL", a.name, err)
			}
		}
	})
}

// relaxDA raises the TPM's dictionary-attack limit (3 failures on both
// the simulator and swtpm) for tests that give wrong auths on purpose.
func relaxDA(t *testing.T, tp *TPM) {
	t.Helper()
	if err := tp.SetDictionaryAttack(1000, 1000, 1000, nil); err != nil {
		t.Fatalf("SetDictionaryAttack() = %v", err)
	}
}

func TestSealLimits(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *TPM, _ target) {
		big := bytes.Repeat([]byte{0xEE}, MaxSealedSecret)
		s, err := tp.Seal(big, []byte("pin"))
		if err != nil {
			t.Fatalf("Seal(%d bytes) = %v", len(big), err)
		}
		if got, err := tp.Unseal(s, []byte("pin")); err != nil || !bytes.Equal(got, big) {
			t.Errorf("Unseal() = %d bytes, %v, want the %d bytes sealed", len(got), err, len(big))
		}
		if _, err := tp.Seal(append(big, 0), nil); err == nil {
			t.Errorf("Seal(%d bytes) succeeded, want error", len(big)+1)
		}
		if _, err := tp.Seal(nil, make([]byte, MaxAuth+1)); err == nil {
			t.Errorf("Seal(auth of %d bytes) succeeded, want error", MaxAuth+1)
		}
		bad := s
		bad.Private = bytes.Clone(s.Private)
		bad.Private[len(bad.Private)-1] ^= 1
		if _, err := tp.Unseal(bad, []byte("pin")); err == nil {
			t.Error("Unseal(tampered blob) succeeded, want error")
		}
		if _, err := tp.Unseal(Sealed{}, nil); err == nil {
			t.Error("Unseal(empty blob) succeeded, want error")
		}
	})
}

func TestLockout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *TPM, _ target) {
		const maxTries = 3
		if err := tp.SetDictionaryAttack(maxTries, 1000, 1000, nil); err != nil {
			t.Fatalf("SetDictionaryAttack() = %v", err)
		}
		pin := []byte("1234")
		s, err := tp.Seal([]byte("token key"), pin)
		if err != nil {
			t.Fatalf("Seal() = %v", err)
		}
		noDA, err := tp.SealNoDA([]byte("channel key"))
		if err != nil {
			t.Fatalf("SealNoDA() = %v", err)
		}
		fails := 0
		for ; fails <= maxTries+1; fails++ {
			_, err = tp.Unseal(s, []byte("0000"))
			if !errors.Is(err, ErrAuthFail) {
				break
			}
		}
		if !errors.Is(err, ErrLockout) || !errors.Is(err, tpm2.TPMRCLockout) {
			t.Fatalf("after %d wrong auths, Unseal() = %v, want ErrLockout", fails, err)
		}
		t.Logf("locked out after %d failures (maxTries %d)", fails, maxTries)
		if _, err := tp.Unseal(s, pin); !errors.Is(err, ErrLockout) {
			t.Errorf("Unseal(right auth) in lockout = %v, want ErrLockout", err)
		}
		if got, err := tp.Unseal(noDA, nil); err != nil || string(got) != "channel key" {
			t.Errorf("Unseal(SealNoDA) in lockout = %q, %v; want the secret", got, err)
		}
		if err := tp.ResetLockout(nil); err != nil {
			t.Fatalf("ResetLockout() = %v", err)
		}
		if got, err := tp.Unseal(s, pin); err != nil || string(got) != "token key" {
			t.Errorf("Unseal(right auth) after reset = %q, %v", got, err)
		}
	})
}

func TestWrongLockoutAuth(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *TPM, _ target) {
		err := tp.SetDictionaryAttack(3, 1000, 0, []byte("not the lockout auth"))
		if !errors.Is(err, ErrAuthFail) {
			t.Errorf("SetDictionaryAttack(wrong lockout auth) = %v, want ErrAuthFail", err)
		}
	})
}

// TestNoLeaks checks that Seal and Unseal, failing or not, leave no
// transient object or session behind.
func TestNoLeaks(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *TPM, _ target) {
		relaxDA(t, tp)
		before, err := tp.LoadedTransients()
		if err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			s, err := tp.Seal([]byte{byte(i)}, []byte{byte(i), 0, 1})
			if err != nil {
				t.Fatalf("Seal() = %v", err)
			}
			if _, err := tp.Unseal(s, []byte{byte(i), 0, 1}); err != nil {
				t.Fatalf("Unseal() = %v", err)
			}
			if i%5 == 0 {
				tp.Unseal(s, []byte("wrong"))
				tp.Unseal(Sealed{Public: s.Public, Private: s.Public}, nil)
			}
		}
		assertClean(t, tp, before)
	})
}

func assertClean(t *testing.T, tp *TPM, wantTransients int) {
	t.Helper()
	if n, err := tp.LoadedTransients(); err != nil || n != wantTransients {
		t.Errorf("LoadedTransients() = %d, %v, want %d", n, err, wantTransients)
	}
	// Only the sessions kept open for cached keys may stay.
	if n, err := tp.LoadedSessions(); err != nil || n != len(tp.keys.sessions) || n > tp.keys.maxSessions {
		t.Errorf("LoadedSessions() = %d, %v, want the %d kept for cached keys (at most %d)", n, err, len(tp.keys.sessions), tp.keys.maxSessions)
	}
}
