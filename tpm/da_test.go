package tpm

import (
	"crypto"
	"crypto/elliptic"
	"errors"
	"math"
	"testing"
)

// TestDictionaryAttackState reads back what SetDictionaryAttack set, sees
// each wrong auth on a sealed object counted, and inLockout at the limit.
func TestDictionaryAttackState(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *TPM, _ target) {
		const maxTries = 3
		if d, err := tp.DictionaryAttackState(); err != nil {
			t.Fatalf("DictionaryAttackState() = %v", err)
		} else {
			t.Logf("as started: %+v", d)
		}
		if err := tp.SetDictionaryAttack(maxTries, 1000, 2000, nil); err != nil {
			t.Fatalf("SetDictionaryAttack() = %v", err)
		}
		d, err := tp.DictionaryAttackState()
		want := DAState{MaxTries: maxTries, Interval: 1000, Recovery: 2000}
		if err != nil || d != want || d.Left() != maxTries {
			t.Fatalf("DictionaryAttackState() = %+v (left %d), %v, want %+v", d, d.Left(), err, want)
		}
		s, err := tp.Seal([]byte("secret"), []byte("right"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tp.Unseal(s, []byte("right")); err != nil {
			t.Fatal(err)
		}
		if d, _ := tp.DictionaryAttackState(); d.Counter != 0 {
			t.Errorf("after a right auth, counter = %d, want 0", d.Counter)
		}
		for i := uint32(1); i <= maxTries; i++ {
			if _, err := tp.Unseal(s, []byte("wrong")); !errors.Is(err, ErrAuthFail) {
				t.Fatalf("wrong auth %d: %v, want ErrAuthFail", i, err)
			}
			d, err := tp.DictionaryAttackState()
			if err != nil || d.Counter != i || d.Left() != maxTries-i || d.InLockout != (i == maxTries) {
				t.Fatalf("after %d wrong auths: %+v (left %d), %v", i, d, d.Left(), err)
			}
		}
		if err := tp.ResetLockout(nil); err != nil {
			t.Fatal(err)
		}
		if d, err := tp.DictionaryAttackState(); err != nil || d.Counter != 0 || d.InLockout {
			t.Errorf("after ResetLockout: %+v, %v", d, err)
		}
	})
}

// TestKeysWorkInLockout: keys carry noDA, so they sign while PIN guesses
// on a sealed object hold the TPM in lockout.
func TestKeysWorkInLockout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *TPM, _ target) {
		if err := tp.SetDictionaryAttack(1, 1000, 1000, nil); err != nil {
			t.Fatal(err)
		}
		k, _, err := tp.CreateKey(KeySpec{Kind: KindECC, Curve: elliptic.P256(), Sign: true}, keyAuth)
		if err != nil {
			t.Fatal(err)
		}
		s, err := tp.Seal([]byte("secret"), []byte("right"))
		if err != nil {
			t.Fatal(err)
		}
		tp.Unseal(s, []byte("wrong"))
		if d, err := tp.DictionaryAttackState(); err != nil || !d.InLockout {
			t.Fatalf("after a wrong auth with maxTries 1: %+v, %v, want lockout", d, err)
		}
		if _, err := tp.Unseal(s, []byte("right")); !errors.Is(err, ErrLockout) {
			t.Fatalf("Unseal in lockout = %v, want ErrLockout", err)
		}
		tp.FlushKeys() // load it afresh, under lockout
		if _, err := tp.Sign(k, keyAuth, digestOf(crypto.SHA256, "m"), crypto.SHA256); err != nil {
			t.Errorf("Sign with a noDA key in lockout = %v", err)
		}
		if _, err := tp.Sign(k, []byte("not the auth"), digestOf(crypto.SHA256, "m"), crypto.SHA256); !errors.Is(err, ErrAuthFail) {
			t.Errorf("Sign with a wrong auth = %v, want ErrAuthFail", err)
		}
		if d, _ := tp.DictionaryAttackState(); d.Counter != 1 {
			t.Errorf("a wrong auth on a noDA key changed the counter to %d, want 1", d.Counter)
		}
		tp.ResetLockout(nil)
	})
}

// TestDictionaryAttackOff: with a recovery interval of 0 the TPM counts no
// failure and never locks out, whatever its limit: Left is unbounded.
func TestDictionaryAttackOff(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *TPM, _ target) {
		if err := tp.SetDictionaryAttack(1, 0, 0, nil); err != nil {
			t.Fatal(err)
		}
		s, err := tp.Seal([]byte("secret"), []byte("right"))
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if _, err := tp.Unseal(s, []byte("wrong")); !errors.Is(err, ErrAuthFail) {
				t.Fatalf("wrong auth = %v, want ErrAuthFail", err)
			}
		}
		if d, err := tp.DictionaryAttackState(); err != nil || d.Counter != 0 || d.InLockout || d.Left() != math.MaxUint32 {
			t.Errorf("DictionaryAttackState() = %+v (left %d), %v, want nothing counted", d, d.Left(), err)
		}
	})
}
