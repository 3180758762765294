package luks

import (
	"bytes"
	"context"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tep.dev/tep/provisioning"
	"tep.dev/tep/provisioning/pcrpolicy"
)

// unsealWithTools runs the whole unseal with tpm2-tools from the YAML's
// fields alone, and returns the passphrase. The rig's TPM must be closed.
func (r *rig) unsealWithTools(c *Config) []byte {
	r.t.Helper()
	r.policyWithTools(c)
	pass := r.sh("tpm2_unseal", "-p", "session:session.ctx", "-c", fmt.Sprintf("0x%08x", uint32(provisioning.LUKSHandle)))
	r.sh("tpm2_flushcontext", "session.ctx")
	return pass
}

// policyWithTools leaves in session.ctx a policy session that satisfies
// the sealed object's policy, made by tpm2-tools from c's fields.
func (r *rig) policyWithTools(c *Config) {
	r.t.Helper()
	p := mustPolicy(r.t, c)
	writePEM(r.t, filepath.Join(r.dir, "policy_pub.pem"), &r.key.PublicKey)
	r.write("approved.policy", p.Approved)
	r.write("signature.der", p.Signature)
	r.write("epoch.bin", pcrpolicy.OperandB(c.Epoch))
	idx := fmt.Sprintf("0x%08x", uint32(provisioning.LUKSRevocationIndex))
	sel := c.Bank + ":" + strings.Trim(strings.Join(strings.Fields(fmt.Sprint(c.PCRs)), ","), "[]")
	for _, cmd := range [][]string{
		{"tpm2_loadexternal", "-C", "o", "-G", "ecc", "-u", "policy_pub.pem", "-c", "key.ctx", "-n", "key.name"},
		{"tpm2_verifysignature", "-c", "key.ctx", "-g", "sha256", "-m", "approved.policy", "-s", "signature.der", "-f", "ecdsa", "-t", "verified.ticket"},
		{"tpm2_flushcontext", "-t"},
		{"tpm2_startauthsession", "--policy-session", "-S", "session.ctx"},
		{"tpm2_policypcr", "-S", "session.ctx", "-l", sel},
		{"tpm2_policynv", "-S", "session.ctx", "-i", "epoch.bin", idx, "ule"},
		{"tpm2_policyauthorize", "-S", "session.ctx", "-i", "approved.policy", "-n", "key.name", "-t", "verified.ticket"},
	} {
		r.sh(cmd...)
	}
}

func (r *rig) write(name string, b []byte) {
	r.t.Helper()
	if err := os.WriteFile(filepath.Join(r.dir, name), b, 0o600); err != nil {
		r.t.Fatal(err)
	}
}

// TestTPM2ToolsUnseal: tpm2-tools alone, given the YAML's fields, unseal
// the same passphrase: the policy is the standard construct.
func TestTPM2ToolsUnseal(t *testing.T) {
	for _, curve := range []elliptic.Curve{elliptic.P384(), elliptic.P256()} {
		t.Run(curve.Params().Name, func(t *testing.T) {
			r := newRig(t, curve)
			c := r.sign(r.values(pcrpolicy.SHA384), r.key, 1)
			if _, err := r.dev.Setup(context.Background(), c, SetupOptions{}); err != nil {
				t.Fatal(err)
			}
			ours := r.passphrase(c)
			r.closeTPM()
			theirs := r.unsealWithTools(c)
			if !bytes.Equal(ours, theirs) {
				t.Fatalf("tpm2_unseal gave %q, tep-luks %q", theirs, ours)
			}
			if _, err := base64.StdEncoding.DecodeString(string(ours)); err != nil || len(ours) != 44 {
				t.Fatalf("passphrase %q is not 32 bytes in base64", ours)
			}
			// The name tpm2_loadexternal gives the key is ours.
			name, _ := pcrpolicy.KeyName(&r.key.PublicKey)
			if got, _ := os.ReadFile(filepath.Join(r.dir, "key.name")); !bytes.Equal(got, name) {
				t.Fatalf("tpm2_loadexternal name %s, ours %s", hex.EncodeToString(got), hex.EncodeToString(name))
			}
		})
	}
}
