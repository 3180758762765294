package server

import (
	"fmt"
	"sync"
	"testing"

	"tep.dev/tep/p11"
	p11client "tep.dev/tep/provider/client"
	"tep.dev/tep/server/store"
	"tep.dev/tep/tpm"
	"tep.dev/tep/tpm/tpmtest"
)

const (
	userFlags = p11.CKF_USER_PIN_COUNT_LOW | p11.CKF_USER_PIN_FINAL_TRY | p11.CKF_USER_PIN_LOCKED
	soFlags   = p11.CKF_SO_PIN_COUNT_LOW | p11.CKF_SO_PIN_FINAL_TRY | p11.CKF_SO_PIN_LOCKED
)

// pinState returns slot 1's PIN flags.
func pinState(t *testing.T, c *p11client.Client) uint64 {
	t.Helper()
	info, err := c.TokenInfo(1)
	if err != nil {
		t.Fatal(err)
	}
	return info.Flags & (userFlags | soFlags)
}

func daState(t *testing.T, tp *tpm.TPM) tpm.DAState {
	t.Helper()
	d, err := tp.DictionaryAttackState()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestPINLockout: the user PIN locks after DefaultPINTries wrong PINs, the
// flags say so step by step, a locked PIN is refused without the TPM, and
// the SO's C_InitPIN unlocks it. C_SetPIN's old PIN counts too.
func TestPINLockout(t *testing.T) {
	f := newFixture(t, "sim")
	if err := f.tpm.SetDictionaryAttack(100, 1000, 1000, nil); err != nil {
		t.Fatal(err)
	}
	c := f.dial(t)
	s, err := c.OpenSession(1, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	wants := []struct {
		rv    p11.RV
		flags uint64
	}{
		{p11.CKR_PIN_INCORRECT, p11.CKF_USER_PIN_COUNT_LOW},
		{p11.CKR_PIN_INCORRECT, p11.CKF_USER_PIN_COUNT_LOW | p11.CKF_USER_PIN_FINAL_TRY},
		{p11.CKR_PIN_INCORRECT, p11.CKF_USER_PIN_LOCKED}, // C_SetPIN's
		{p11.CKR_PIN_LOCKED, p11.CKF_USER_PIN_LOCKED},
	}
	if got := pinState(t, c); got != 0 {
		t.Fatalf("fresh token: PIN flags %#x, want none", got)
	}
	for i, w := range wants {
		var err error
		if i == 2 {
			err = c.SetPIN(s, []byte("0000"), []byte("5555"))
		} else {
			err = c.Login(s, p11.CKU_USER, []byte("0000"))
		}
		wantRV(t, fmt.Sprintf("wrong PIN %d", i+1), err, w.rv)
		if got := pinState(t, c); got != w.flags {
			t.Fatalf("after wrong PIN %d: flags %#x, want %#x", i+1, got, w.flags)
		}
	}
	before := daState(t, f.tpm).Counter
	wantRV(t, "right PIN while locked", c.Login(s, p11.CKU_USER, []byte(userPIN)), p11.CKR_PIN_LOCKED)
	wantRV(t, "SetPIN while locked", c.SetPIN(s, []byte(userPIN), []byte("5555")), p11.CKR_PIN_LOCKED)
	if after := daState(t, f.tpm).Counter; after != before || before != 3 {
		t.Errorf("TPM counter %d before and %d after tries on a locked PIN, want 3 and 3", before, after)
	}
	if err := c.Login(s, p11.CKU_SO, []byte(soPIN)); err != nil {
		t.Fatal(err)
	}
	if err := c.InitPIN(s, []byte("2468")); err != nil {
		t.Fatal(err)
	}
	if got := pinState(t, c); got != 0 {
		t.Errorf("after C_InitPIN: flags %#x, want none", got)
	}
	c.Logout(s)
	if err := c.Login(s, p11.CKU_USER, []byte("2468")); err != nil {
		t.Fatalf("the new PIN after C_InitPIN: %v", err)
	}
}

// TestPINSuccessResetsCount: a right PIN forgets earlier wrong ones.
func TestPINSuccessResetsCount(t *testing.T) {
	f := newFixture(t, "sim")
	c := f.dial(t)
	s, err := c.OpenSession(1, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []uint64{p11.CKU_USER, p11.CKU_SO} {
		for range DefaultPINTries - 1 {
			wantRV(t, "wrong PIN", c.Login(s, typ, []byte("0000")), p11.CKR_PIN_INCORRECT)
		}
	}
	if got, want := pinState(t, c), uint64(p11.CKF_USER_PIN_COUNT_LOW|p11.CKF_USER_PIN_FINAL_TRY|p11.CKF_SO_PIN_COUNT_LOW|p11.CKF_SO_PIN_FINAL_TRY); got != want {
		t.Fatalf("flags %#x, want %#x", got, want)
	}
	if err := c.Login(s, p11.CKU_SO, []byte(soPIN)); err != nil {
		t.Fatal(err)
	}
	if got := pinState(t, c); got != p11.CKF_USER_PIN_COUNT_LOW|p11.CKF_USER_PIN_FINAL_TRY {
		t.Errorf("after the SO's login: flags %#x, want the user's alone", got)
	}
	c.Logout(s)
	if err := c.Login(s, p11.CKU_USER, []byte(userPIN)); err != nil {
		t.Fatal(err)
	}
	if got := pinState(t, c); got != 0 {
		t.Errorf("after both logins: flags %#x, want none", got)
	}
}

// TestPINNeverLocksTheTPM: on swtpm with the reference TPM's limit of 3,
// wrong PINs stop one short of the TPM's lockout; the right PIN is then
// refused, not counted, and the flags do not claim the PIN is locked.
func TestPINNeverLocksTheTPM(t *testing.T) {
	f := newFixture(t, tpmtest.StartSWTPM(t))
	if err := f.tpm.SetDictionaryAttack(3, 1000, 1000, nil); err != nil {
		t.Fatal(err)
	}
	c := f.dial(t)
	s, err := c.OpenSession(1, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	// The user and the SO in turn: the TPM's budget runs out before
	// either PIN's own count does.
	incorrect := 0
	for i := range 10 {
		err := c.Login(s, uint64(i%2), []byte("0000")) // CKU_SO, CKU_USER
		if err == p11.CKR_PIN_INCORRECT {
			incorrect++
		} else {
			wantRV(t, "wrong PIN past the TPM's budget", err, p11.CKR_PIN_LOCKED)
		}
	}
	if d := daState(t, f.tpm); incorrect != 2 || d.InLockout || d.Counter != 2 {
		t.Fatalf("%d PIN_INCORRECT, TPM %+v: want 2 and the counter one short of lockout", incorrect, d)
	}
	wantRV(t, "right PIN on an exhausted TPM budget", c.Login(s, p11.CKU_USER, []byte(userPIN)), p11.CKR_PIN_LOCKED)
	if got := pinState(t, c); got != p11.CKF_USER_PIN_COUNT_LOW|p11.CKF_SO_PIN_COUNT_LOW {
		t.Errorf("flags %#x, want the two COUNT_LOWs: the TPM's budget recovers, no PIN is locked", got)
	}
	if err := f.tpm.ResetLockout(nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Login(s, p11.CKU_USER, []byte(userPIN)); err != nil {
		t.Fatalf("right PIN once the TPM has budget: %v", err)
	}
}

// TestPINRefusedWhenOthersSpentTheTPMBudget: someone else on the TPM
// (here the test, failing a sealed object's auth) brings the TPM one
// failure short of lockout; C_Login refuses rather than risk locking it.
func TestPINRefusedWhenOthersSpentTheTPMBudget(t *testing.T) {
	f := newFixture(t, "sim")
	if err := f.tpm.SetDictionaryAttack(3, 1000, 1000, nil); err != nil {
		t.Fatal(err)
	}
	sl, err := f.tpm.Seal([]byte("other"), []byte("other's auth"))
	if err != nil {
		t.Fatal(err)
	}
	c := f.dial(t)
	s, err := c.OpenSession(1, p11.CKF_SERIAL_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	f.tpm.Unseal(sl, []byte("wrong"))
	if err := c.Login(s, p11.CKU_USER, []byte(userPIN)); err != nil {
		t.Fatalf("with 2 of 3 failures left: %v", err)
	}
	c.Logout(s)
	f.tpm.Unseal(sl, []byte("wrong"))
	for _, pin := range []string{userPIN, "0000"} {
		wantRV(t, "PIN with 1 of 3 failures left", c.Login(s, p11.CKU_USER, []byte(pin)), p11.CKR_PIN_LOCKED)
	}
	if d := daState(t, f.tpm); d.Counter != 2 || d.InLockout {
		t.Errorf("TPM %+v, want the counter left at 2", d)
	}
	if got := pinState(t, c); got != 0 {
		t.Errorf("flags %#x, want none: refused tries are not the user's failures", got)
	}
}

// TestPINCountSurvivesRestart: the tries and the counts are in the store.
func TestPINCountSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	open := func() (*tpm.TPM, *store.Store, *Server) { return openAt(t, dir) }
	tp, st, srv := open()
	if err := tp.SetDictionaryAttack(100, 1000, 1000, nil); err != nil {
		t.Fatal(err)
	}
	slot, err := srv.CreateToken("kept", []byte(soPIN))
	if err == nil {
		err = srv.SetUserPIN(slot, []byte(soPIN), []byte(userPIN))
	}
	if err == nil {
		err = srv.SetPINTries(slot, 2)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.SetPINTries(slot, 0); err == nil {
		t.Error("SetPINTries(0) succeeded")
	}
	_, err = srv.checkPIN(slot, false, []byte("0000"))
	wantRV(t, "wrong PIN", err, p11.CKR_PIN_INCORRECT)
	srv.Close()
	st.Close()
	tp.Close()

	tp, st, srv = open()
	defer func() { srv.Close(); st.Close(); tp.Close() }()
	if row := srv.tokens[slot].row; row.PINTries != 2 || row.UserPINFails != 1 {
		t.Fatalf("after restart: tries %d, failures %d, want 2 and 1", row.PINTries, row.UserPINFails)
	}
	_, err = srv.checkPIN(slot, false, []byte("0000"))
	wantRV(t, "second wrong PIN", err, p11.CKR_PIN_INCORRECT)
	_, err = srv.checkPIN(slot, false, []byte(userPIN))
	wantRV(t, "right PIN after 2 of 2", err, p11.CKR_PIN_LOCKED)
}

// TestLoggedInUserSignsInTPMLockout: with the TPM in dictionary-attack
// lockout (put there by someone else: the test, on a sealed object), a
// client logged in before keeps signing with a key made in the TPM, while
// another client's PINs, right or wrong, are refused without counting.
func TestLoggedInUserSignsInTPMLockout(t *testing.T) {
	f := newFixture(t, "sim")
	signer, attacker := f.dial(t), f.dial(t)
	s, err := signer.OpenSession(1, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	if err := signer.Login(s, p11.CKU_USER, []byte(userPIN)); err != nil {
		t.Fatal(err)
	}
	_, priv, err := signer.GenerateKeyPair(s, p11.Mechanism{Type: p11.CKM_EC_KEY_PAIR_GEN}, []p11.Attribute{attr(p11.CKA_EC_PARAMS, oidP256)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.tpm.SetDictionaryAttack(1, 1000, 1000, nil); err != nil {
		t.Fatal(err)
	}
	sl, err := f.tpm.Seal([]byte("other"), []byte("other's auth"))
	if err != nil {
		t.Fatal(err)
	}
	f.tpm.Unseal(sl, []byte("wrong"))
	if d := daState(t, f.tpm); !d.InLockout {
		t.Fatalf("TPM %+v, want lockout", d)
	}
	f.tpm.FlushKeys() // the key is loaded again, in lockout
	as, err := attacker.OpenSession(1, p11.CKF_SERIAL_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		wantRV(t, "a PIN in lockout", attacker.Login(as, p11.CKU_USER, []byte([]string{"0000", userPIN}[i%2])), p11.CKR_PIN_LOCKED)
		if err := signer.SignInit(s, p11.Mechanism{Type: p11.CKM_ECDSA}, priv); err != nil {
			t.Fatal(err)
		}
		if _, _, err := signer.Sign(s, make([]byte, 32), 64); err != nil {
			t.Fatalf("sign %d in lockout: %v", i+1, err)
		}
	}
	if got := pinState(t, attacker); got != 0 {
		t.Errorf("flags %#x, want none: the TPM's lockout is not the PIN's", got)
	}
}

// TestConcurrentPINChecksKeepTheBudget: wrong PINs checked at once, for
// both PINs, never take the TPM past its budget: each check reads the
// budget and tries in one step.
func TestConcurrentPINChecksKeepTheBudget(t *testing.T) {
	f := newFixture(t, "sim")
	if err := f.srv.SetPINTries(1, 10); err != nil {
		t.Fatal(err)
	}
	if err := f.tpm.SetDictionaryAttack(3, 1000, 1000, nil); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { _, errs[i] = f.srv.checkPIN(1, i%2 == 0, []byte("00000000")) })
	}
	wg.Wait()
	counts := map[error]int{}
	for _, err := range errs {
		counts[err]++
	}
	if counts[p11.CKR_PIN_INCORRECT] != 2 || counts[p11.CKR_PIN_LOCKED] != 6 {
		t.Errorf("answers %v, want 2 CKR_PIN_INCORRECT and 6 CKR_PIN_LOCKED", counts)
	}
	if d := daState(t, f.tpm); d.Counter != 2 || d.InLockout {
		t.Errorf("TPM %+v, want the counter at 2", d)
	}
}

// TestPINWithTPMProtectionOff: a TPM whose dictionary-attack protection is
// off (recovery interval 0) counts nothing, so its limit of 1 does not
// stop tepd from checking PINs; tepd's own count still locks the PIN.
func TestPINWithTPMProtectionOff(t *testing.T) {
	f := newFixture(t, "sim")
	if err := f.tpm.SetDictionaryAttack(1, 0, 0, nil); err != nil {
		t.Fatal(err)
	}
	c := f.dial(t)
	s, err := c.OpenSession(1, p11.CKF_SERIAL_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	wantRV(t, "wrong PIN", c.Login(s, p11.CKU_USER, []byte("0000")), p11.CKR_PIN_INCORRECT)
	if err := c.Login(s, p11.CKU_USER, []byte(userPIN)); err != nil {
		t.Fatalf("right PIN on a TPM that counts nothing: %v", err)
	}
	c.Logout(s)
	for range DefaultPINTries {
		wantRV(t, "wrong PIN", c.Login(s, p11.CKU_USER, []byte("0000")), p11.CKR_PIN_INCORRECT)
	}
	wantRV(t, "right PIN once locked", c.Login(s, p11.CKU_USER, []byte(userPIN)), p11.CKR_PIN_LOCKED)
}
