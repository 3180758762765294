package device

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"tep.dev/tep/provisioning"
)

func TestCounter(t *testing.T) {
	f := newFixture(t)
	idx := provisioning.ConfigEpochIndex
	if v, defined, err := ReadCounter(f.t, idx); err != nil || defined || v != 0 {
		t.Fatalf("ReadCounter on a fresh TPM = %d, %v, %v, want 0, false, nil", v, defined, err)
	}
	start, err := EnsureCounter(f.t, idx)
	if err != nil || start == 0 {
		t.Fatalf("EnsureCounter = %d, %v, want a first value", start, err)
	}
	if v, err := EnsureCounter(f.t, idx); err != nil || v != start {
		t.Fatalf("EnsureCounter again = %d, %v, want %d", v, err, start)
	}
	if err := RaiseCounter(f.t, idx, start+5); err != nil {
		t.Fatal(err)
	}
	read := func() uint64 {
		t.Helper()
		v, defined, err := ReadCounter(f.t, idx)
		if err != nil || !defined {
			t.Fatalf("ReadCounter = %d, %v, %v", v, defined, err)
		}
		return v
	}
	if v := read(); v != start+5 {
		t.Fatalf("after RaiseCounter(%d) the counter is %d", start+5, v)
	}
	if err := RaiseCounter(f.t, idx, start+5); err != nil || read() != start+5 {
		t.Fatalf("RaiseCounter to its own value = %v, counter %d", err, read())
	}
	if err := RaiseCounter(f.t, idx, start+4); !errors.Is(err, ErrCounterAhead) || read() != start+5 {
		t.Fatalf("RaiseCounter below = %v, counter %d, want ErrCounterAhead and no change", err, read())
	}
	if err := RaiseCounter(f.t, idx, start+5+MaxRaise+1); !errors.Is(err, ErrRaiseTooFar) || read() != start+5 {
		t.Fatalf("RaiseCounter by MaxRaise+1 = %v, counter %d, want ErrRaiseTooFar and no change", err, read())
	}
	if err := RaiseCounter(f.t, idx, start+5+MaxRaise); err != nil || read() != start+5+MaxRaise {
		t.Fatalf("RaiseCounter by MaxRaise = %v, counter %d", err, read())
	}
}

// A counter defined again does not start over: its first increment sets
// it from the highest count of any counter deleted from the TPM. Raising
// it to a value below that stops at its first value and says so.
func TestCounterFirstValueAhead(t *testing.T) {
	f := newFixture(t)
	idx := provisioning.ConfigEpochIndex
	if err := RaiseCounter(f.t, idx, 50); err != nil {
		t.Fatal(err)
	}
	err := f.t.Do(func(tr transport.TPM) error {
		_, err := tpm2.NVUndefineSpace{AuthHandle: ownerAuth, NVIndex: tpm2.NamedHandle{Handle: idx}}.Execute(tr)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	err = RaiseCounter(f.t, idx, 10)
	v, defined, rerr := ReadCounter(f.t, idx)
	if rerr != nil || !defined || v <= 50 {
		t.Fatalf("the counter defined again reads %d, %v, %v, want above 50", v, defined, rerr)
	}
	if !errors.Is(err, ErrCounterAhead) || !strings.Contains(err.Error(), strconv.FormatUint(v, 10)) || !strings.Contains(err.Error(), "first value") {
		t.Fatalf("RaiseCounter(counter defined again, 10) = %v, want ErrCounterAhead giving its first value %d", err, v)
	}
}

func TestCounterRefusesOtherIndices(t *testing.T) {
	f := newFixture(t)
	k := newECKey(t, ellipticP256())
	if _, err := WritePolicyKey(f.t, &k.PublicKey, false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadCounter(f.t, provisioning.PolicyKeyIndex); err == nil || !strings.Contains(err.Error(), "not a counter") {
		t.Fatalf("ReadCounter(the policy key index) = %v, want an error", err)
	}
	if err := RaiseCounter(f.t, provisioning.PolicyKeyIndex, 5); err == nil {
		t.Fatal("RaiseCounter(the policy key index) succeeded")
	}
}

// Only the owner raises a counter: the index's own (empty, public)
// authorization does not.
func TestCounterOnlyOwnerIncrements(t *testing.T) {
	f := newFixture(t)
	idx := provisioning.LUKSRevocationIndex
	start, err := EnsureCounter(f.t, idx)
	if err != nil {
		t.Fatal(err)
	}
	err = f.t.Do(func(tr transport.TPM) error {
		pub, name, err := nvPublic(tr, idx)
		if err != nil {
			return err
		}
		_, err = tpm2.NVIncrement{
			AuthHandle: tpm2.AuthHandle{Handle: pub.NVIndex, Name: name, Auth: tpm2.PasswordAuth(nil)},
			NVIndex:    tpm2.NamedHandle{Handle: pub.NVIndex, Name: name},
		}.Execute(tr)
		return err
	})
	if !errors.Is(err, tpm2.TPMRCAuthUnavailable) {
		t.Fatalf("NV_Increment with the index's own authorization = %v, want TPM_RC_AUTH_UNAVAILABLE", err)
	}
	if v, _, _ := ReadCounter(f.t, idx); v != start {
		t.Fatalf("the counter moved from %d to %d", start, v)
	}
}
