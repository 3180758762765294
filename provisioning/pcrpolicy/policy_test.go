package pcrpolicy

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"tep.dev/tep/internal/swtpm"
	"tep.dev/tep/provisioning"
	"tep.dev/tep/tpm/tpmtest"
)

// tools runs tpm2-tools against one swtpm.
type tools struct {
	t    *testing.T
	tcti string
	dir  string
}

func newTools(t *testing.T) *tools {
	t.Helper()
	spec := tpmtest.Start(t, swtpm.Config{TCP: true, Manufacture: &swtpm.Manufacture{PCRBanks: []string{"sha256", "sha384"}}})
	hostPort := strings.TrimPrefix(spec, "swtpm:")
	i := strings.LastIndex(hostPort, ":")
	return &tools{t: t, tcti: "swtpm:host=" + hostPort[:i] + ",port=" + hostPort[i+1:], dir: t.TempDir()}
}

func (x *tools) run(args ...string) []byte {
	x.t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = x.dir
	cmd.Env = append(os.Environ(), "TPM2TOOLS_TCTI="+x.tcti)
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		x.t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, stderr)
	}
	return out
}

func (x *tools) read(name string) []byte {
	x.t.Helper()
	b, err := os.ReadFile(filepath.Join(x.dir, name))
	if err != nil {
		x.t.Fatal(err)
	}
	return b
}

func (x *tools) write(name string, b []byte) {
	x.t.Helper()
	if err := os.WriteFile(filepath.Join(x.dir, name), b, 0o600); err != nil {
		x.t.Fatal(err)
	}
}

// playBoot extends PCRs 0, 7 and 10 in both banks with tags of the test's.
func (x *tools) playBoot(tag string) {
	x.t.Helper()
	for _, p := range []string{"0", "7", "10"} {
		s256 := sha256.Sum256([]byte(tag + p))
		s384 := sha512.Sum384([]byte(tag + p))
		x.run("tpm2_pcrextend", p+":sha256="+hex.EncodeToString(s256[:])+",sha384="+hex.EncodeToString(s384[:]))
	}
}

// keyWithShortX returns a key on c whose X coordinate has a leading zero
// byte, the case that a name computed from unpadded coordinates gets wrong.
func keyWithShortX(t *testing.T, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	for range 5000 {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := k.PublicKey.Bytes()
		if b[1] == 0 {
			return k
		}
	}
	t.Fatal("no key with a short X coordinate in 5000 tries")
	return nil
}

func pubPEM(t *testing.T, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// TestAgainstTPM2Tools checks every digest of the package against the
// ones that tpm2-tools' trial sessions get from swtpm, in both banks and
// for P-256 and P-384 keys whose X coordinate is short.
func TestAgainstTPM2Tools(t *testing.T) {
	x := newTools(t)
	x.playBoot("boot")
	idx := "0x" + hex.EncodeToString(uint32Bytes(uint32(provisioning.LUKSRevocationIndex)))
	x.run("tpm2_nvdefine", idx, "-C", "o", "-s", "8", "-a", "ownerwrite|ownerread|authread|no_da|nt=counter")
	x.run("tpm2_nvincrement", "-C", "o", idx)
	nvpub := string(x.run("tpm2_nvreadpublic", idx))
	wantName := hex.EncodeToString(CounterName(provisioning.LUKSRevocationIndex))
	if !strings.Contains(nvpub, "name: "+wantName) {
		t.Fatalf("tpm2_nvreadpublic = %s, want name %s", nvpub, wantName)
	}
	const epoch = 7
	x.write("epoch.bin", OperandB(epoch))

	for _, bank := range []Bank{SHA256, SHA384} {
		t.Run(string(bank), func(t *testing.T) {
			x.t = t
			sel := string(bank) + ":0,7,10"
			x.run("tpm2_pcrread", "-o", "pcrs.bin", sel)
			v, err := ParsePCRFile(x.read("pcrs.bin"), bank, []int{10, 0, 7})
			if err != nil {
				t.Fatal(err)
			}
			fromYAML, err := ParsePCRFile(x.run("tpm2_pcrread", sel), bank, []int{0, 7, 10})
			if err != nil {
				t.Fatal(err)
			}
			for i := range v.Digests {
				if !bytes.Equal(v.Digests[i], fromYAML.Digests[i]) {
					t.Fatalf("PCR %d: raw file %x, YAML %x", v.PCRs[i], v.Digests[i], fromYAML.Digests[i])
				}
			}
			x.run("tpm2_startauthsession", "-S", "s.ctx")
			x.run("tpm2_policypcr", "-S", "s.ctx", "-l", sel, "-f", "pcrs.bin", "-L", "pcr.policy")
			x.run("tpm2_policynv", "-S", "s.ctx", "-i", "epoch.bin", "-L", "approved.policy", idx, "ule")
			x.run("tpm2_flushcontext", "s.ctx")
			pcrOnly, err := PolicyPCR(make([]byte, DigestSize), v)
			if err != nil {
				t.Fatal(err)
			}
			if got := x.read("pcr.policy"); !bytes.Equal(got, pcrOnly) {
				t.Errorf("PolicyPCR = %x, tpm2_policypcr %x", pcrOnly, got)
			}
			approved, err := Approved(v, CounterName(provisioning.LUKSRevocationIndex), epoch)
			if err != nil {
				t.Fatal(err)
			}
			if got := x.read("approved.policy"); !bytes.Equal(got, approved) {
				t.Errorf("Approved = %x, tpm2_policynv %x", approved, got)
			}
		})
	}
	for _, c := range []elliptic.Curve{elliptic.P256(), elliptic.P384()} {
		t.Run(c.Params().Name, func(t *testing.T) {
			x.t = t
			k := keyWithShortX(t, c)
			x.write("pub.pem", pubPEM(t, &k.PublicKey))
			x.run("tpm2_loadexternal", "-C", "o", "-G", "ecc", "-u", "pub.pem", "-c", "key.ctx", "-n", "key.name")
			name, err := KeyName(&k.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			if got := x.read("key.name"); !bytes.Equal(got, name) {
				t.Fatalf("KeyName = %x, tpm2_loadexternal %x", name, got)
			}
			approved := bytes.Repeat([]byte{0xa5}, DigestSize)
			x.write("approved.policy", approved)
			x.run("tpm2_startauthsession", "-S", "s.ctx")
			x.run("tpm2_policyauthorize", "-S", "s.ctx", "-i", "approved.policy", "-n", "key.name", "-L", "authorized.policy")
			x.run("tpm2_flushcontext", "s.ctx")
			if got := x.read("authorized.policy"); !bytes.Equal(got, Authorized(name)) {
				t.Errorf("Authorized = %x, tpm2_policyauthorize %x", Authorized(name), got)
			}
			// The signature verifies in the TPM too, and yields a ticket.
			sig, err := Sign(k, nil, approved)
			if err != nil {
				t.Fatal(err)
			}
			x.write("sig.der", sig)
			x.run("tpm2_verifysignature", "-c", "key.ctx", "-g", "sha256", "-m", "approved.policy", "-s", "sig.der", "-f", "ecdsa", "-t", "ticket.bin")
			x.run("tpm2_flushcontext", "-t")
		})
	}
}

func uint32Bytes(v uint32) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }
