package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMinRSABits: a token refuses RSA keys below its policy, 2048 bits by
// default, and makes them once its operator allows them (tepd init
// --min-rsa-bits); the mechanism information says which.
func TestMinRSABits(t *testing.T) {
	for _, tc := range []struct {
		name   string
		init   []string
		gen1k  bool
		minKey string
	}{
		{"default", nil, false, "min 2048"},
		{"legacy", []string{"--min-rsa-bits", "1024"}, true, "min 1024"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := startTepd(t, "sim", tc.init...)
			out, err := d.tool("--login", "--pin", userPIN, "--keypairgen", "--key-type", "rsa:1024", "--label", "old", "--id", "10")
			if (err == nil) != tc.gen1k {
				t.Fatalf("--keypairgen rsa:1024: %v, want success %v\n%s", err, tc.gen1k, out)
			}
			if !tc.gen1k && !strings.Contains(out, "CKR_KEY_SIZE_RANGE") {
				t.Errorf("--keypairgen rsa:1024 on a default token:\n%s\nwant CKR_KEY_SIZE_RANGE", out)
			}
			mechs, err := d.tool("--list-mechanisms")
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, l := range strings.Split(mechs, "\n") {
				l = strings.TrimSpace(l)
				found = found || strings.HasPrefix(l, "RSA-PKCS-KEY-PAIR-GEN")
				if strings.HasPrefix(l, "RSA-PKCS-KEY-PAIR-GEN") && !strings.Contains(l, "keySize={"+strings.TrimPrefix(tc.minKey, "min ")+",") {
					t.Errorf("mechanism list: %q, want a minimum of %s", l, tc.minKey)
				}
			}
			if !found {
				t.Errorf("no RSA-PKCS-KEY-PAIR-GEN in the mechanism list:\n%s", mechs)
			}
			if !tc.gen1k {
				return
			}
			in := filepath.Join(t.TempDir(), "in")
			os.WriteFile(in, []byte("legacy peer"), 0o600)
			sig := in + ".sig"
			if out, err := d.tool("--login", "--pin", userPIN, "--sign", "--mechanism", "SHA256-RSA-PKCS", "--id", "10", "--input-file", in, "--output-file", sig); err != nil {
				t.Fatalf("signing with the RSA-1024 key: %v\n%s", err, out)
			}
			if b, err := os.ReadFile(sig); err != nil || len(b) != 128 {
				t.Errorf("RSA-1024 signature: %d bytes, %v; want 128", len(b), err)
			}
		})
	}
}

// TestMinRSABitsTheTPMLacks: tepd init refuses a policy the TPM cannot
// meet.
func TestMinRSABitsTheTPMLacks(t *testing.T) {
	state := t.TempDir()
	out, err := exec.Command(bin.tepd, "init", "--state", state, "--tpm", "sim", "--so-pin", soPIN, "--user-pin", userPIN,
		"--min-rsa-bits", "512").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--min-rsa-bits") {
		t.Errorf("tepd init --min-rsa-bits 512: %v\n%s\nwant an error naming the flag", err, out)
	}
}
