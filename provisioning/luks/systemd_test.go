package luks

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"tep.dev/tep/provisioning/pcrpolicy"
)

// TestSystemdCryptenroll: tep-luks sign --format systemd with an RSA-2048
// key writes a tpm2-pcr-signature.json that systemd-cryptenroll accepts:
// it enrolls a TPM2 keyslot under the signed policy and, in doing so,
// unseals through it (VerifySignature, PolicyPCR, PolicyAuthorize) to
// check the enrollment. A signature by another key is refused.
func TestSystemdCryptenroll(t *testing.T) {
	r := newRig(t, elliptic.P384())
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	v := r.values(pcrpolicy.SHA256)
	sig, err := SystemdSignature(v, rsaKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The JSON's signature verifies over its policy, which is PolicyPCR
	// over the values: checked here whatever systemd can do.
	var doc map[string][]struct {
		PCRs []int  `json:"pcrs"`
		Pol  string `json:"pol"`
		Sig  string `json:"sig"`
	}
	if err := json.Unmarshal(sig, &doc); err != nil || len(doc["sha256"]) != 1 {
		t.Fatalf("tpm2-pcr-signature.json = %s, %v", sig, err)
	}
	e := doc["sha256"][0]
	pol, _ := hex.DecodeString(e.Pol)
	raw, _ := base64.StdEncoding.DecodeString(e.Sig)
	want, _ := pcrpolicy.PolicyPCR(make([]byte, pcrpolicy.DigestSize), v)
	if !bytes.Equal(pol, want) || pcrpolicy.Verify(&rsaKey.PublicKey, pol, raw) != nil {
		t.Fatalf("the JSON's policy %x (want %x) or signature does not verify", pol, want)
	}
	if _, err := SystemdSignature(v, mustECDSA(t), nil); err == nil {
		t.Fatal("SystemdSignature took an ECDSA key, which systemd cannot use")
	}
	if _, err := SystemdSignature(r.values(pcrpolicy.SHA384), rsaKey, nil); err == nil {
		t.Fatal("SystemdSignature took the sha384 bank, which systemd cannot use")
	}

	ver, err := exec.Command("systemd-cryptenroll", "--version").Output()
	if err != nil {
		t.Logf("systemd-cryptenroll is not installed (%v): the enrollment step was not run", err)
		return
	}
	t.Logf("%s", strings.SplitN(string(ver), "\n", 2)[0])
	pass := []byte("enrollment-passphrase")
	if err := (Cryptsetup{}).Format(context.Background(), r.image, pass, "", FormatOptions{PBKDF: "pbkdf2", PBKDFForceIterations: 1000}); err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(r.dir, "rsa_pub.pem"), &rsaKey.PublicKey)
	r.write("tpm2-pcr-signature.json", sig)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	otherSig, err := SystemdSignature(v, other, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.write("other-signature.json", otherSig)
	r.closeTPM()
	enroll := func(sigFile string) (string, error) {
		cmd := exec.Command("systemd-cryptenroll", "--tpm2-device="+r.tcti(), "--tpm2-pcrs=",
			"--tpm2-public-key=rsa_pub.pem", "--tpm2-public-key-pcrs=0+7+10", "--tpm2-signature="+sigFile, r.image)
		cmd.Dir = r.dir
		// systemd-cryptenroll 252 takes the existing passphrase from
		// $PASSWORD; it is the test's throwaway, not a sealed one.
		cmd.Env = append(os.Environ(), "PASSWORD="+string(pass), "SYSTEMD_LOG_LEVEL=debug")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := enroll("other-signature.json"); err == nil || !strings.Contains(out, "Couldn't find signature") {
		t.Fatalf("systemd-cryptenroll with another key's signature = %v:\n%s", err, out)
	}
	out, err := enroll("tpm2-pcr-signature.json")
	if err != nil {
		if strings.Contains(out, "Failed to load TCTI module") {
			t.Logf("systemd-cryptenroll cannot reach swtpm here: the enrollment step was not run:\n%s", out)
			return
		}
		t.Fatalf("systemd-cryptenroll: %v\n%s", err, out)
	}
	if !strings.Contains(out, "Unsealing for verification") || !strings.Contains(out, "New TPM2 token enrolled") {
		t.Fatalf("systemd-cryptenroll did not unseal through the signed policy:\n%s", out)
	}
	if dump := string(r.sh("cryptsetup", "luksDump", r.image)); !strings.Contains(dump, "systemd-tpm2") {
		t.Fatalf("luksDump shows no systemd-tpm2 token:\n%s", dump)
	}
}

func mustECDSA(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
