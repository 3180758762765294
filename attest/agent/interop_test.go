package agent_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/agent"
	"tep.dev/tep/attest/credential"
	"tep.dev/tep/internal/swtpm"
)

// tools runs tpm2-tools commands in dir against the swtpm on port (0:
// none, for commands that need no TPM).
type tools struct {
	t    *testing.T
	dir  string
	port int
}

func (x tools) run(args ...string) ([]byte, error) {
	x.t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = x.dir
	cmd.Env = os.Environ()
	if x.port != 0 {
		cmd.Env = append(cmd.Env, "TPM2TOOLS_TCTI=swtpm:host=127.0.0.1,port="+strconv.Itoa(x.port))
	}
	return cmd.CombinedOutput()
}

func (x tools) must(args ...string) {
	x.t.Helper()
	if out, err := x.run(args...); err != nil {
		x.t.Fatalf("%v: %v\n%s", args, err, out)
	}
}

func (x tools) write(name string, b []byte) string {
	x.t.Helper()
	if err := os.WriteFile(filepath.Join(x.dir, name), b, 0o600); err != nil {
		x.t.Fatal(err)
	}
	return name
}

func (x tools) read(name string) []byte {
	x.t.Helper()
	b, err := os.ReadFile(filepath.Join(x.dir, name))
	if err != nil {
		x.t.Fatal(err)
	}
	return b
}

// tss is a TPMT_PUBLIC as tpm2-tools stores it: a TPM2B_PUBLIC.
func tss(pub []byte) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(pub))), pub...)
}

// TestToolsActivateOurCredential: tpm2-tools make an EK and an AK, we
// make the credential in software, tpm2_activatecredential opens it.
func TestToolsActivateOurCredential(t *testing.T) {
	for _, alg := range []string{"rsa", "ecc"} {
		t.Run(alg, func(t *testing.T) {
			p, err := swtpm.Start(swtpm.Config{State: t.TempDir(), TCP: true})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Stop()
			x := tools{t, t.TempDir(), p.Port}
			// No resource manager here: flush what each command leaves.
			x.must("tpm2_createek", "-c", "ek.ctx", "-G", alg, "-u", "ek.pub")
			x.must("tpm2_flushcontext", "-t")
			x.must("tpm2_createak", "-C", "ek.ctx", "-c", "ak.ctx", "-G", alg, "-g", "sha256", "-u", "ak.pub", "-n", "ak.name")
			x.must("tpm2_flushcontext", "-t")
			secret := []byte("a secret only this TPM can open")
			blob, err := credential.Make(x.read("ek.pub")[2:], x.read("ak.name"), secret)
			if err != nil {
				t.Fatal(err)
			}
			x.write("cred", blob)
			x.must("tpm2_startauthsession", "--policy-session", "-S", "s.ctx")
			x.must("tpm2_policysecret", "-S", "s.ctx", "-c", "e")
			x.must("tpm2_activatecredential", "-c", "ak.ctx", "-C", "ek.ctx", "-i", "cred", "-o", "out", "-P", "session:s.ctx")
			x.must("tpm2_flushcontext", "s.ctx")
			if got := x.read("out"); !bytes.Equal(got, secret) {
				t.Errorf("tpm2_activatecredential recovered %q, want %q", got, secret)
			}
		})
	}
}

// TestActivateToolsCredential: tpm2_makecredential makes the credential
// for our agent's EK and AK, the agent opens it.
func TestActivateToolsCredential(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca")
	for _, ek := range []string{"rsa", "p384"} {
		t.Run(ek, func(t *testing.T) {
			d := newDevice(t, ca, agent.Config{EK: ek})
			req, err := d.agent.Enroll("host-1", "")
			if err != nil {
				t.Fatal(err)
			}
			name, _ := d.agent.AKName()
			x := tools{t, t.TempDir(), 0}
			x.write("ek.pub", tss(req.EKPublic))
			x.write("secret", []byte("0123456789abcdef"))
			x.must("tpm2_makecredential", "-T", "none", "-u", "ek.pub", "-s", "secret", "-n", hex.EncodeToString(name), "-o", "cred")
			act, err := d.agent.Activate(attest.Challenge{Credential: x.read("cred")})
			if err != nil {
				t.Fatal(err)
			}
			if string(act.Secret) != "0123456789abcdef" {
				t.Errorf("Activate recovered %q from tpm2_makecredential's blob", act.Secret)
			}
		})
	}
}

// TestToolsCheckQuote: tpm2_checkquote accepts our agent's quote (AK
// signature, nonce, PCR digest of the reported values) and refuses it
// once a byte of it or of a PCR value changed.
func TestToolsCheckQuote(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca")
	for _, ak := range []string{"ecc", "rsa"} {
		t.Run(ak, func(t *testing.T) {
			e := enroll(t, newDevice(t, ca, agent.Config{EK: "rsa", AK: ak}))
			e.measure(t, 10, "/usr/bin/tepd")
			n := nonce(t)
			ev := e.quote(t, n)
			x := tools{t, t.TempDir(), 0}
			x.write("ak.pub", tss(e.req.AKPublic))
			x.write("quote.msg", ev.Quote)
			x.write("quote.sig", ev.Signature)
			x.write("pcrs", toolsPCRs(ev.PCRs, 11))
			check := []string{"tpm2_checkquote", "-u", "ak.pub", "-m", "quote.msg", "-s", "quote.sig", "-q", hex.EncodeToString(n), "-g", "sha256", "-f", "pcrs"}
			x.must(check...)
			v := ev.PCRs[1].Values[10]
			v[0] ^= 1
			x.write("pcrs", toolsPCRs(ev.PCRs, 11))
			if out, err := x.run(check...); err == nil {
				t.Errorf("tpm2_checkquote accepts changed PCR values:\n%s", out)
			}
			v[0] ^= 1
			x.write("pcrs", toolsPCRs(ev.PCRs, 11))
			x.must(check...)
			bad := bytes.Clone(ev.Quote)
			bad[len(bad)-1] ^= 1
			x.write("quote.msg", bad)
			if out, err := x.run(check...); err == nil {
				t.Errorf("tpm2_checkquote accepts a changed quote:\n%s", out)
			}
		})
	}
}

// toolsPCRs writes PCRs 0 to n-1 of banks as tpm2_quote's PCR file: the
// C structs TPML_PCR_SELECTION (132 bytes), a 4-byte count and that many
// TPML_DIGEST (532 bytes each, eight digests at most), in the host's
// (little-endian) byte order with the compiler's padding.
func toolsPCRs(banks []attest.PCRBank, n int) []byte {
	algs := map[string]uint16{"sha1": 4, "sha256": 11, "sha384": 12, "sha512": 13}
	sel := make([]byte, 132)
	binary.LittleEndian.PutUint32(sel, uint32(len(banks)))
	var lists [][]byte
	for i, b := range banks {
		s := sel[4+8*i:]
		binary.LittleEndian.PutUint16(s, algs[b.Bank])
		s[2] = 3
		for p := range n {
			s[3+p/8] |= 1 << (p % 8)
		}
		for first := 0; first < n; first += 8 {
			l := make([]byte, 532)
			count := min(8, n-first)
			binary.LittleEndian.PutUint32(l, uint32(count))
			for j := range count {
				d := l[4+66*j:]
				v := b.Values[first+j]
				binary.LittleEndian.PutUint16(d, uint16(len(v)))
				copy(d[2:], v)
			}
			lists = append(lists, l)
		}
	}
	out := binary.LittleEndian.AppendUint32(sel, uint32(len(lists)))
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}
