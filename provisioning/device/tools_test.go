package device

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"tep.dev/tep/internal/swtpm"
	"tep.dev/tep/provisioning"
)

// tools runs a tpm2-tools command against the fixture's swtpm, with the
// TPM closed meanwhile (swtpm serves one connection at a time).
func (f *fixture) tools(t *testing.T, args ...string) (string, error) {
	t.Helper()
	a, err := swtpm.ParseSpec(f.spec)
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(a.Data)
	reopen := f.t != nil
	f.close(t)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "TPM2TOOLS_TCTI=swtpm:host=127.0.0.1,port="+port)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if reopen {
		f.open(t)
	}
	return string(out), err
}

func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return out
}

// What tep-provision writes reads back with the standard tools: the NV
// index with tpm2_nvread gives the DER that OpenSSL turns into the same
// PEM, and tpm2_readpublic shows the AES key's attributes.
func TestToolsInterop(t *testing.T) {
	for _, p := range []Profile{PTT, DTPM} {
		t.Run(p.Name, func(t *testing.T) {
			f := newFixture(t)
			k := newECKey(t, p.Curve)
			if _, err := Provision(f.t, Request{PolicyKey: &k.PublicKey, AESKey: randomBytes(t, p.AESBits/8), Profile: p.Name}); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			der := filepath.Join(dir, "k.der")
			if out, err := f.tools(t, "tpm2_nvread", "0x018A0000", "-o", der); err != nil {
				t.Fatalf("tpm2_nvread: %v\n%s", err, out)
			}
			got := run(t, "openssl", "pkey", "-pubin", "-inform", "DER", "-in", der)
			want := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: mustDER(t, &k.PublicKey)})
			if !bytes.Equal(got, want) {
				t.Fatalf("tpm2_nvread | openssl pkey =\n%s\nwant\n%s", got, want)
			}
			out, err := f.tools(t, "tpm2_readpublic", "-c", "0x8100A000")
			if err != nil {
				t.Fatalf("tpm2_readpublic: %v\n%s", err, out)
			}
			for _, w := range []string{"value: userwithauth|noda|decrypt|sign", "value: symcipher", "value: aes", "sym-keybits: " + strconv.Itoa(p.AESBits)} {
				if !strings.Contains(out, w) {
					t.Errorf("tpm2_readpublic -c 0x8100A000 lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// The TPM itself refuses the AES key for anything but
// TPM2_EncryptDecrypt(2): signing (tpm2_sign), HMAC (tpm2_hmac), and
// acting as a parent (TPM2_Create under it).
func TestAESKeyOnlyEncryptDecrypt(t *testing.T) {
	f := newFixture(t)
	importKey(t, f, randomBytes(t, 32))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"tpm2_sign", "-c", "0x8100A000", "-g", "sha256", "-o", "sig", "/etc/hostname"}, "tpm:handle(1)"},
		{[]string{"tpm2_hmac", "-c", "0x8100A000", "/etc/hostname"}, "tpm:"},
	} {
		out, err := f.tools(t, c.args...)
		if err == nil || !strings.Contains(out, c.want) {
			t.Errorf("%s = %v, want the TPM's refusal (%q)\n%s", strings.Join(c.args, " "), err, c.want, out)
		}
	}
	err := f.t.Do(func(tr transport.TPM) error {
		rsp, err := tpm2.ReadPublic{ObjectHandle: provisioning.AESKeyHandle}.Execute(tr)
		if err != nil {
			return err
		}
		_, err = tpm2.Create{
			ParentHandle: tpm2.AuthHandle{Handle: provisioning.AESKeyHandle, Name: rsp.Name, Auth: tpm2.PasswordAuth(nil)},
			InPublic:     tpm2.New2B(tpm2.ECCSRKTemplate),
		}.Execute(tr)
		return err
	})
	var rc tpm2.TPMRC
	var fmt1 tpm2.TPMFmt1Error
	if err == nil || !errors.As(err, &rc) && !errors.As(err, &fmt1) {
		t.Fatalf("TPM2_Create under the AES key = %v, want the TPM's refusal", err)
	}
}

// A key of the wrong size for the profile is refused before anything is
// written, with a message that names the profile.
func TestProvisionProfiles(t *testing.T) {
	f := newFixture(t)
	p384, p256 := newECKey(t, elliptic.P384()), newECKey(t, elliptic.P256())
	for _, c := range []struct {
		profile string
		policy  *ecdsa.PrivateKey
		aesLen  int
		want    string
	}{
		{"ptt", p384, 16, "profile ptt"},
		{"ptt", p256, 32, "profile ptt"},
		{"dtpm", p256, 32, "profile dtpm"},
		{"dtpm", p384, 16, "profile dtpm"},
		{"auto", p384, 16, "profile ptt (auto)"},
	} {
		_, err := Provision(f.t, Request{PolicyKey: &c.policy.PublicKey, AESKey: make([]byte, c.aesLen), Profile: c.profile})
		if !errors.Is(err, ErrProfile) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Provision(%s, %s, AES %d bytes) = %v, want ErrProfile naming %q", c.profile, c.policy.Curve.Params().Name, c.aesLen, err, c.want)
		}
	}
	if e, err := ReadStatus(f.t); err != nil || e[0].Present || e[3].Present {
		t.Fatalf("after refusals, status = %+v, %v; want nothing written", e, err)
	}
	if _, err := Provision(f.t, Request{PolicyKey: &p256.PublicKey, AESKey: randomBytes(t, 16), Profile: "nope"}); err == nil {
		t.Fatal("Provision with profile nope succeeded")
	}
}
