package tests

import (
	"bufio"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"tep.dev/tep/tpm"
	"tep.dev/tep/tpm/tpmtest"
)

// withTPM opens the TPM at spec (swtpm, while tepd is stopped: swtpm serves
// one connection at a time) and runs fn on it.
func withTPM(t *testing.T, spec string, fn func(*tpm.TPM) error) {
	t.Helper()
	tp, err := tpm.Open(spec, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	if err := fn(tp); err != nil {
		t.Fatal(err)
	}
}

func daState(t *testing.T, spec string) tpm.DAState {
	t.Helper()
	var d tpm.DAState
	withTPM(t, spec, func(tp *tpm.TPM) (err error) { d, err = tp.DictionaryAttackState(); return err })
	return d
}

// login runs pkcs11-tool with a user (or, so, SO) PIN and returns its
// output: the CKR name of a refusal, or "" on success.
func (d *tepd) login(so bool, pin string) string {
	args := []string{"--login", "--pin", pin, "--generate-random", "8"}
	if so {
		args = []string{"--session-rw", "--login", "--login-type", "so", "--so-pin", pin, "--list-objects"}
	}
	out, err := d.tool(args...)
	if err == nil {
		return ""
	}
	for _, f := range strings.Fields(out) {
		if strings.HasPrefix(f, "CKR_") {
			return strings.Trim(f, "().,")
		}
	}
	return out
}

// pinFlags returns the PIN flags pkcs11-tool -L shows for the token.
func (d *tepd) pinFlags() []string {
	d.t.Helper()
	out, err := d.tool("-L")
	if err != nil {
		d.t.Fatalf("pkcs11-tool -L: %v\n%s", err, out)
	}
	var flags []string
	// pkcs11-tool's names for the CKF_*_PIN_* flags.
	for _, f := range []string{"user PIN count low", "final user PIN try", "user PIN locked", "SO PIN count low", "final SO PIN try", "SO PIN locked"} {
		if strings.Contains(out, f) {
			flags = append(flags, f)
		}
	}
	return flags
}

func (d *tepd) wantFlags(when string, want ...string) {
	d.t.Helper()
	if got := d.pinFlags(); strings.Join(got, ",") != strings.Join(want, ",") {
		d.t.Errorf("%s: PIN flags %q, want %q", when, got, want)
	}
}

// TestSignerSurvivesWrongPINs: while one process signs, logged in, another
// types wrong user and SO PINs from public sessions: the signer never
// fails, and on swtpm the TPM is never put in lockout: with the reference
// TPM's limit of 3 (1000 s recovery) tepd tries 2 wrong PINs on it and
// refuses the rest; with a limit of 50, each PIN's 3 tries reach the TPM
// and then the PINs are locked.
func TestSignerSurvivesWrongPINs(t *testing.T) {
	swtpm := func(maxTries uint32) func(*testing.T) string {
		return func(t *testing.T) string {
			spec := tpmtest.StartSWTPM(t)
			if maxTries != 0 {
				withTPM(t, spec, func(tp *tpm.TPM) error { return tp.SetDictionaryAttack(maxTries, 1000, 1000, nil) })
			}
			return spec
		}
	}
	for _, tc := range []struct {
		name      string
		spec      func(*testing.T) string
		incorrect int // wrong PINs the TPM sees
	}{
		{"sim", func(*testing.T) string { return "sim" }, 2},
		{"swtpm", swtpm(0), 2},
		{"swtpm-roomy", swtpm(50), 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.spec(t)
			d := startTepd(t, spec)
			signer := d.clientCmd("sign", userPIN)
			stdin, _ := signer.StdinPipe()
			stdout, _ := signer.StdoutPipe()
			if err := signer.Start(); err != nil {
				t.Fatal(err)
			}
			lines := bufio.NewReader(stdout)
			if l, err := lines.ReadString('\n'); err != nil || l != "ready=0x0\n" {
				signer.Process.Kill()
				signer.Wait()
				t.Fatalf("signer: %q, %v", l, err)
			}
			seen := map[string]int{}
			for i := range 8 {
				seen[d.login(i%2 == 1, "0000")]++
			}
			stdin.Close()
			rest, _ := io.ReadAll(lines)
			signer.Wait()
			r := results(rest)
			signs, _ := strconv.Atoi(r["signs"])
			t.Logf("attacker's results %v; signer: %d signatures, %s failed (first %s)", seen, signs, r["failures"], r["first failure"])
			if signs < 2 || r["failures"] != "0" {
				t.Errorf("signer: %s", rest)
			}
			if seen["CKR_PIN_INCORRECT"] != tc.incorrect || seen["CKR_PIN_LOCKED"] != 8-tc.incorrect {
				t.Errorf("wrong PINs answered %v, want %d CKR_PIN_INCORRECT, the rest CKR_PIN_LOCKED", seen, tc.incorrect)
			}
			if tc.name == "sim" {
				return // in tepd's process
			}
			d.stop()
			if st := daState(t, spec); st.InLockout || st.Counter != uint32(tc.incorrect) {
				t.Errorf("TPM after the attack: %+v, want the counter at %d, no lockout", st, tc.incorrect)
			}
		})
	}
}

// TestTPMBudgetSpentByOthers: on swtpm, someone else on the TPM (the test,
// failing a sealed object's auth) leaves it one failure short of lockout;
// the right PIN is refused, not tried, and the TPM is not locked.
func TestTPMBudgetSpentByOthers(t *testing.T) {
	spec := tpmtest.StartSWTPM(t)
	d := startTepd(t, spec)
	d.stop()
	withTPM(t, spec, func(tp *tpm.TPM) error {
		s, err := tp.Seal([]byte("LUKS, say"), []byte("its passphrase"))
		if err != nil {
			return err
		}
		tp.Unseal(s, []byte("wrong"))
		tp.Unseal(s, []byte("wrong"))
		return nil
	})
	d.start()
	if got := d.login(false, userPIN); got != "CKR_PIN_LOCKED" {
		t.Errorf("right PIN with one TPM failure left: %q, want CKR_PIN_LOCKED", got)
	}
	d.wantFlags("after the refusal")
	d.stop()
	if st := daState(t, spec); st.InLockout || st.Counter != 2 {
		t.Errorf("TPM %+v, want the counter left at 2", st)
	}
	withTPM(t, spec, func(tp *tpm.TPM) error { return tp.ResetLockout(nil) })
	d.start()
	if got := d.login(false, userPIN); got != "" {
		t.Errorf("right PIN after the TPM's lockout reset: %s", got)
	}
}

// TestPINLockAndUnlock: with tepd init --pin-tries 2, the user PIN locks
// at the second wrong PIN, the flags say so at each step and after a
// restart, the SO's C_InitPIN unlocks it; the SO PIN locks the same way
// and tepd unlock-so, on the stopped state directory, unlocks it. On the
// simulator, which tepd starts afresh, so its lockout counter starts at 0.
func TestPINLockAndUnlock(t *testing.T) {
	d := startTepd(t, "sim", "--pin-tries", "2")
	d.wantFlags("fresh token")
	if got := d.login(false, "0000"); got != "CKR_PIN_INCORRECT" {
		t.Fatalf("wrong PIN: %s", got)
	}
	d.wantFlags("one wrong PIN of 2", "user PIN count low", "final user PIN try")
	if got := d.login(false, "0000"); got != "CKR_PIN_INCORRECT" {
		t.Fatalf("wrong PIN: %s", got)
	}
	d.wantFlags("two wrong PINs of 2", "user PIN locked")
	if got := d.login(false, userPIN); got != "CKR_PIN_LOCKED" {
		t.Errorf("right PIN while locked: %q, want CKR_PIN_LOCKED", got)
	}
	d.stop()
	d.start()
	d.wantFlags("after a restart", "user PIN locked")
	if got := d.login(false, userPIN); got != "CKR_PIN_LOCKED" {
		t.Errorf("right PIN while locked, after a restart: %q, want CKR_PIN_LOCKED", got)
	}
	if out, err := d.tool("--login", "--login-type", "so", "--so-pin", soPIN, "--init-pin", "--new-pin", "2468"); err != nil {
		t.Fatalf("C_InitPIN by the SO: %v\n%s", err, out)
	}
	d.wantFlags("after C_InitPIN")
	if got := d.login(false, "2468"); got != "" {
		t.Errorf("the new PIN: %s", got)
	}

	for range 2 {
		if got := d.login(true, "00000000"); got != "CKR_PIN_INCORRECT" {
			t.Fatalf("wrong SO PIN: %s", got)
		}
	}
	d.wantFlags("two wrong SO PINs of 2", "SO PIN locked")
	if got := d.login(true, soPIN); got != "CKR_PIN_LOCKED" {
		t.Errorf("right SO PIN while locked: %q, want CKR_PIN_LOCKED", got)
	}
	d.stop()
	out, err := exec.Command(bin.tepd, "unlock-so", "--state", d.state).CombinedOutput()
	if err != nil {
		t.Fatalf("tepd unlock-so: %v\n%s", err, out)
	}
	d.start()
	d.wantFlags("after tepd unlock-so")
	if got := d.login(true, soPIN); got != "" {
		t.Errorf("right SO PIN after tepd unlock-so: %s", got)
	}
}
