package luks

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"tep.dev/tep/internal/swtpm"
	"tep.dev/tep/provisioning/device"
	"tep.dev/tep/provisioning/pcrpolicy"
	"tep.dev/tep/tpm"
)

// rig is one device: an swtpm with sha256 and sha384 banks on a state
// directory that survives its restarts, a 64 MiB image file as the
// partition, and the operator's policy key.
type rig struct {
	t     testing.TB
	state string
	proc  *swtpm.Process
	tpm   *tpm.TPM
	image string
	dir   string
	key   *ecdsa.PrivateKey
	dev   *Device
	log   bytes.Buffer
}

func newRig(t testing.TB, curve elliptic.Curve) *rig {
	t.Helper()
	r := &rig{t: t, state: t.TempDir(), dir: t.TempDir()}
	r.boot()
	t.Cleanup(r.shutdown)
	r.image = filepath.Join(r.dir, "part.img")
	r.sh("truncate", "-s", "64M", r.image)
	var err error
	if r.key, err = ecdsa.GenerateKey(curve, rand.Reader); err != nil {
		t.Fatal(err)
	}
	writePolicyKey(t, r.tpm, &r.key.PublicKey)
	return r
}

// boot starts swtpm on the rig's state (a power cycle: PCRs reset) and
// plays the normal boot into PCRs 0, 7 and 10.
func (r *rig) boot() { r.bootWith(map[int]string{}) }

// bootWith plays a boot in which PCR i is extended with alt[i] instead.
func (r *rig) bootWith(alt map[int]string) {
	r.t.Helper()
	r.shutdown()
	p, err := swtpm.Start(swtpm.Config{State: r.state, TCP: true,
		Manufacture: &swtpm.Manufacture{PCRBanks: []string{"sha256", "sha384"}}})
	if err != nil {
		r.t.Fatalf("starting swtpm: %v", err)
	}
	r.proc = p
	r.open()
	for _, pcr := range []int{0, 7, 10} {
		tag := "boot-component-" + strconv.Itoa(pcr)
		if a, ok := alt[pcr]; ok {
			tag = a
		}
		extend(r.t, r.tpm, pcr, tag)
	}
}

func (r *rig) open() {
	r.t.Helper()
	t, err := tpm.Open(r.proc.Spec, "")
	if err != nil {
		r.t.Fatalf("opening swtpm: %v", err)
	}
	r.tpm = t
	r.dev = &Device{TPM: t, StateDir: filepath.Join(r.dir, "state"), Log: &r.log}
}

// closeTPM lets another client (tpm2-tools) reach swtpm, which serves one
// connection at a time.
func (r *rig) closeTPM() {
	if r.tpm != nil {
		r.tpm.Close()
		r.tpm = nil
	}
}

func (r *rig) shutdown() {
	r.closeTPM()
	if r.proc != nil {
		r.proc.Stop()
		r.proc = nil
	}
}

// tcti is the TPM2TOOLS_TCTI for the rig's swtpm.
func (r *rig) tcti() string {
	hp := strings.TrimPrefix(r.proc.Spec, "swtpm:")
	i := strings.LastIndex(hp, ":")
	return "swtpm:host=" + hp[:i] + ",port=" + hp[i+1:]
}

// sh runs a command with TPM2TOOLS_TCTI set and returns its stdout.
func (r *rig) sh(args ...string) []byte {
	r.t.Helper()
	out, err := r.try(args...)
	if err != nil {
		r.t.Fatal(err)
	}
	return out
}

func (r *rig) try(args ...string) ([]byte, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = r.dir
	if r.proc != nil {
		cmd.Env = append(os.Environ(), "TPM2TOOLS_TCTI="+r.tcti())
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, errors.New(strings.Join(args, " ") + ": " + err.Error() + ": " + stderr.String())
	}
	return out, nil
}

// values are the PCR values of the rig's normal boot, as the admin
// expects them.
func (r *rig) values(bank pcrpolicy.Bank) pcrpolicy.Values {
	return expected(r.t, bank, map[int]string{})
}

// sign signs a configuration for the rig's partition on the admin side.
func (r *rig) sign(v pcrpolicy.Values, key *ecdsa.PrivateKey, epoch uint64) *Config {
	r.t.Helper()
	c, err := Sign(SignOptions{Values: v, Signer: key, Device: r.image, Epoch: epoch,
		Cryptsetup: FormatOptions{PBKDF: "pbkdf2", PBKDFForceIterations: 1000}})
	if err != nil {
		r.t.Fatal(err)
	}
	// Through the YAML, as the device reads it.
	b, err := c.Encode()
	if err != nil {
		r.t.Fatal(err)
	}
	c, err = Decode(bytes.NewReader(b))
	if err != nil {
		r.t.Fatalf("Decode(Encode(config)): %v\n%s", err, b)
	}
	return c
}

func (r *rig) imageSum() [32]byte {
	r.t.Helper()
	b, err := os.ReadFile(r.image)
	if err != nil {
		r.t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// sealedName is the name of the object at LUKSHandle.
func (r *rig) sealedName() []byte {
	r.t.Helper()
	var name []byte
	err := r.tpm.Do(func(tr transport.TPM) error {
		o, err := readSealed(tr)
		name = o.name.Buffer
		return err
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return name
}

// passphrase unseals the passphrase under c as unlock does.
func (r *rig) passphrase(c *Config) []byte {
	r.t.Helper()
	pass, _, err := r.dev.unseal(c)
	if err != nil {
		r.t.Fatal(err)
	}
	return pass
}

// checkOpens checks with cryptsetup that pass opens the image, and
// luksDump that it is LUKS2 with the UUID given (if any).
func (r *rig) checkOpens(pass []byte) {
	r.t.Helper()
	ok, err := Cryptsetup{}.TestPassphrase(context.Background(), r.image, pass)
	if err != nil || !ok {
		r.t.Fatalf("cryptsetup open --test-passphrase with the sealed passphrase = %v, %v; want it to open", ok, err)
	}
	dump := string(r.sh("cryptsetup", "luksDump", r.image))
	if !strings.Contains(dump, "Version:       \t2") || !strings.Contains(dump, "pbkdf2") {
		r.t.Fatalf("luksDump shows no LUKS2 header with a pbkdf2 keyslot:\n%s", dump)
	}
}

// extend extends PCR pcr in both banks with the digests of tag.
func extend(t testing.TB, tp *tpm.TPM, pcr int, tag string) {
	t.Helper()
	s256 := sha256.Sum256([]byte(tag))
	s384 := sha512.Sum384([]byte(tag))
	_, err := tpm2.PCRExtend{
		PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(pcr), Auth: tpm2.PasswordAuth(nil)},
		Digests: tpm2.TPMLDigestValues{Digests: []tpm2.TPMTHA{
			{HashAlg: tpm2.TPMAlgSHA256, Digest: s256[:]},
			{HashAlg: tpm2.TPMAlgSHA384, Digest: s384[:]},
		}},
	}.Execute(tp)
	if err != nil {
		t.Fatalf("extending PCR %d: %v", pcr, err)
	}
}

// expected computes, in software, PCRs 0, 7 and 10 after one extend each
// from zero: what the admin expects of a boot.
func expected(t testing.TB, bank pcrpolicy.Bank, alt map[int]string) pcrpolicy.Values {
	t.Helper()
	v := pcrpolicy.Values{Bank: bank, PCRs: []int{0, 7, 10}}
	for _, pcr := range v.PCRs {
		tag := "boot-component-" + strconv.Itoa(pcr)
		if a, ok := alt[pcr]; ok {
			tag = a
		}
		var d []byte
		if bank == pcrpolicy.SHA256 {
			m := sha256.Sum256([]byte(tag))
			s := sha256.Sum256(append(make([]byte, 32), m[:]...))
			d = s[:]
		} else {
			m := sha512.Sum384([]byte(tag))
			s := sha512.Sum384(append(make([]byte, 48), m[:]...))
			d = s[:]
		}
		v.Digests = append(v.Digests, d)
	}
	return v
}

func writePEM(t testing.TB, path string, pub any) {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// writePolicyKey provisions pub as tep-provision device does.
func writePolicyKey(t testing.TB, tp *tpm.TPM, pub *ecdsa.PublicKey) {
	t.Helper()
	if _, err := device.WritePolicyKey(tp, pub, false); err != nil {
		t.Fatal(err)
	}
}
