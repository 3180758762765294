package tests

import (
	"fmt"
	"strings"
	"testing"

	"tep.dev/tep/tpm/tpmtest"
)

// TestDES3WithPkcs11Tool: on swtpm, which has TDES, pkcs11-tool lists the
// DES3 mechanisms, generates a three-key TDES key in the TPM and encrypts
// and decrypts a file with it; on the simulator, which lacks TDES, the
// mechanisms are absent. Single DES is never listed.
func TestDES3WithPkcs11Tool(t *testing.T) {
	for _, name := range []string{"sim", "swtpm"} {
		t.Run(name, func(t *testing.T) {
			spec := "sim"
			if name == "swtpm" {
				spec = tpmtest.StartSWTPM(t)
			}
			d := startTepd(t, spec)
			out, err := d.tool("-M")
			if err != nil {
				t.Fatalf("-M: %v\n%s", err, out)
			}
			for _, m := range []string{"DES3-KEY-GEN", "DES3-ECB", "DES3-CBC,", "DES3-CBC-PAD"} {
				if got := strings.Contains(out, m); got != (name == "swtpm") {
					t.Errorf("-M lists %s: %v\n%s", m, got, out)
				}
			}
			if strings.Contains(out, " DES-") {
				t.Errorf("-M lists single DES:\n%s", out)
			}
			if name == "sim" {
				return
			}
			// pkcs11-tool generates DES3 keys, but encrypts with AES
			// only: the C client does the rest.
			login := []string{"--login", "--pin", userPIN}
			if out, err := d.tool(append(login, "--keygen", "--key-type", "DES3:24", "--label", "secret-key")...); err != nil {
				t.Fatalf("--keygen DES3:24: %v\n%s", err, out)
			}
			out2, err := d.clientCmd("des3", userPIN).Output()
			if err != nil {
				t.Fatalf("p11client des3: %v\n%s", err, out2)
			}
			r := results(out2)
			want := map[string]string{"mech0_len": "1008", "mech1_len": "1000", "mech2_len": "1000",
				"single_des": "0x70"} // CKR_MECHANISM_INVALID
			for m := range 3 {
				want[fmt.Sprintf("mech%d_parts", m)], want[fmt.Sprintf("mech%d_round_trip", m)] = "0x0", "0x0"
			}
			for k, v := range want {
				if r[k] != v {
					t.Errorf("p11client des3: %s=%s, want %s\n%s", k, r[k], v, out2)
				}
			}
		})
	}
}
