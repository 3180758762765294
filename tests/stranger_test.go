package tests

import (
	"errors"
	"slices"
	"testing"
	"time"

	"tep.dev/tep/p11"
	p11client "tep.dev/tep/provider/client"
	"tep.dev/tep/tpm"
	"tep.dev/tep/tpm/tpmtest"
)

// stranger is a process on the ports with no PIN: this test process,
// through the client library, on tepd's unix socket.
type stranger struct {
	t *testing.T
	c *p11client.Client
}

func dialStranger(t *testing.T, d *tepd) *stranger {
	t.Helper()
	c, err := p11client.Dial(p11client.Config{Port: "unix:" + d.socket(), StartTimeout: 10 * time.Second, CallTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	s := &stranger{t: t, c: c}
	t.Cleanup(s.close)
	return s
}

// close ends the stranger's client once.
func (s *stranger) close() {
	if s.c != nil {
		s.c.Close()
		s.c = nil
	}
}

// rv is the return value of a call's error.
func rv(err error) p11.RV {
	var r p11.RV
	if err == nil || !errors.As(err, &r) {
		return p11.CKR_OK
	}
	return r
}

// wrongPINs tries n wrong user PINs from a public session of slot 1, and n
// wrong SO PINs through C_InitToken on slot 1, and counts the answers.
func (s *stranger) wrongPINs(n int) map[p11.RV]int {
	s.t.Helper()
	h, err := s.c.OpenSession(1, p11.CKF_SERIAL_SESSION)
	if err != nil {
		s.t.Fatal(err)
	}
	defer s.c.CloseSession(h)
	seen := map[p11.RV]int{}
	for range n {
		seen[rv(s.c.Login(h, p11.CKU_USER, []byte("0000")))]++
	}
	s.c.CloseSession(h) // C_InitToken wants no session on the token
	for range n {
		seen[rv(s.c.InitToken(1, []byte("00000000"), "stranger"))]++
	}
	return seen
}

// TestStrangerCannotDrainTheTPM is the red team's attack, with tepd's
// default of no free slot: a process with no PIN cannot make a token of
// its own (whose SO it would be, free to spend wrong PINs on it without
// end); all it can spend are the tries of slot 1's PINs, and once they
// are locked in PKCS#11's sense its wrong PINs no longer reach the TPM:
// the TPM's lockout counter stops growing. On swtpm with room for more
// failures than both PINs' tries, so that tepd's budget check does not
// answer first.
func TestStrangerCannotDrainTheTPM(t *testing.T) {
	spec := tpmtest.StartSWTPM(t)
	withTPM(t, spec, func(tp *tpm.TPM) error { return tp.SetDictionaryAttack(50, 1000, 1000, nil) })
	d := startTepd(t, spec)
	s := dialStranger(t, d)
	if slots, err := s.c.SlotList(false); err != nil || !slices.Equal(slots, []uint64{1}) {
		t.Fatalf("slot list: %v, %v; want [1], no free slot", slots, err)
	}
	if got := rv(s.c.InitToken(2, []byte("stranger-so"), "mine")); got != p11.CKR_SLOT_ID_INVALID {
		t.Fatalf("C_InitToken on slot 2: %v, want CKR_SLOT_ID_INVALID", got)
	}
	if slots, _ := s.c.SlotList(false); !slices.Equal(slots, []uint64{1}) {
		t.Fatalf("slot list after the refusal: %v, want [1]", slots)
	}
	// 3 tries each (the default): all wrong, the last locks the PIN.
	if seen := s.wrongPINs(3); seen[p11.CKR_PIN_INCORRECT] != 6 {
		t.Fatalf("first wrong PINs answered %v, want 6 CKR_PIN_INCORRECT", seen)
	}
	s.close()
	d.wantFlags("after 3 wrong PINs each", "user PIN locked", "SO PIN locked")
	d.stop()
	first := daState(t, spec)
	if first.Counter != 6 || first.InLockout {
		t.Fatalf("TPM after the PINs locked: %+v, want the counter at 6, no lockout", first)
	}
	d.start()
	s = dialStranger(t, d)
	if seen := s.wrongPINs(5); seen[p11.CKR_PIN_LOCKED] != 10 {
		t.Errorf("wrong PINs once locked answered %v, want 10 CKR_PIN_LOCKED", seen)
	}
	s.close()
	d.stop()
	if st := daState(t, spec); st.Counter != first.Counter || st.InLockout {
		t.Errorf("TPM after 10 more wrong PINs: %+v, want the counter still at %d", st, first.Counter)
	}
}
