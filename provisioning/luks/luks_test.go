package luks

import (
	"bytes"
	"context"
	"crypto/elliptic"
	"errors"
	"os"
	"strings"
	"testing"

	"tep.dev/tep/provisioning/pcrpolicy"
)

// TestEndToEnd signs on the admin side, sets up a fresh partition, reboots
// (swtpm restarted, the same boot played again) and unlocks, in each bank.
func TestEndToEnd(t *testing.T) {
	for _, bank := range []pcrpolicy.Bank{pcrpolicy.SHA256, pcrpolicy.SHA384} {
		t.Run(string(bank), func(t *testing.T) {
			r := newRig(t, elliptic.P384())
			// The admin reads the device's PCRs as the guide says.
			r.closeTPM()
			r.sh("tpm2_pcrread", "-o", "pcrs.dat", string(bank)+":0,7,10")
			r.open()
			v, err := pcrpolicy.ParsePCRFile(readFile(t, r.dir+"/pcrs.dat"), bank, []int{0, 7, 10})
			if err != nil {
				t.Fatal(err)
			}
			c := r.sign(v, r.key, 1)
			ctx := context.Background()
			res, err := r.dev.Setup(ctx, c, SetupOptions{})
			if err != nil {
				t.Fatalf("Setup: %v\n%s", err, r.log.String())
			}
			if res.Action != "formatted" {
				t.Fatalf("Setup().Action = %q, want formatted", res.Action)
			}
			logMapping(t, res)
			name := r.sealedName()
			r.checkOpens(r.passphrase(c))

			r.boot()
			res, err = r.dev.Unlock(ctx, c)
			if err != nil {
				t.Fatalf("Unlock after reboot: %v", err)
			}
			logMapping(t, res)
			// Setup on a later boot unlocks and changes nothing.
			sum := r.imageSum()
			if res, err = r.dev.Setup(ctx, c, SetupOptions{}); err != nil || res.Action != "unlocked" {
				t.Fatalf("Setup on a set-up partition = %+v, %v; want unlocked", res, err)
			}
			if r.imageSum() != sum || !bytes.Equal(r.sealedName(), name) {
				t.Fatal("a second Setup changed the partition or the sealed object")
			}
		})
	}
}

// logMapping says in the test log whether the mapping step ran.
func logMapping(t *testing.T, r Result) {
	t.Helper()
	if r.Mapped {
		t.Logf("%s: opened and mounted at %s", r.Action, r.Mount)
		return
	}
	if r.Note == "" {
		t.Fatal("the volume was not mapped and the result says nothing of it")
	}
	t.Logf("%s: the mapping step was not run: %s", r.Action, r.Note)
}

// TestPCRChange: a changed PCR 7 is refused, status names it and the
// partition is untouched; a new signature for the new value unlocks with
// no re-seal.
func TestPCRChange(t *testing.T) {
	r := newRig(t, elliptic.P384())
	ctx := context.Background()
	c := r.sign(r.values(pcrpolicy.SHA256), r.key, 1)
	if _, err := r.dev.Setup(ctx, c, SetupOptions{}); err != nil {
		t.Fatal(err)
	}
	name := r.sealedName()
	alt := map[int]string{7: "secure-boot-db-updated"}
	r.bootWith(alt)
	sum := r.imageSum()
	_, err := r.dev.Unlock(ctx, c)
	if !errors.Is(err, ErrPCRMismatch) || !strings.Contains(err.Error(), "PCR 7 ") || strings.Contains(err.Error(), "PCR 0 ") {
		t.Fatalf("Unlock after PCR 7 moved = %v, want ErrPCRMismatch naming PCR 7 only", err)
	}
	if _, err := r.dev.Setup(ctx, c, SetupOptions{}); !errors.Is(err, ErrPCRMismatch) {
		t.Fatalf("Setup after PCR 7 moved = %v, want ErrPCRMismatch", err)
	}
	st, err := r.dev.Status(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Moved) != 1 || st.Moved[0] != 7 {
		t.Fatalf("Status().Moved = %v, want [7]", st.Moved)
	}
	var out bytes.Buffer
	st.Print(&out)
	t.Logf("tep-luks status after PCR 7 moved:\n%s", out.String())
	if !strings.Contains(out.String(), "PCR 7 moved") {
		t.Fatalf("status output names no moved PCR 7:\n%s", out.String())
	}
	// The TPM refuses too, not only the software check before it.
	key, p, err := r.dev.Verify(c)
	if err != nil {
		t.Fatal(err)
	}
	if pass, _, err := unsealPassphrase(r.tpm, key, p, c.Epoch); err == nil {
		clear(pass)
		t.Fatal("the TPM unsealed with a moved PCR 7")
	}
	if r.imageSum() != sum {
		t.Fatal("a refused unlock changed the partition")
	}
	c2 := r.sign(expected(t, pcrpolicy.SHA256, alt), r.key, 1)
	if _, err := r.dev.Unlock(ctx, c2); err != nil {
		t.Fatalf("Unlock with the new signature: %v", err)
	}
	if !bytes.Equal(r.sealedName(), name) || r.imageSum() != sum {
		t.Fatal("the new signature needed a re-seal or changed the partition")
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
