package agent_test

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/agent"
	"tep.dev/tep/attest/credential"
	"tep.dev/tep/attest/ekcert"
	"tep.dev/tep/attest/quote"
	"tep.dev/tep/internal/swtpm"
	"tep.dev/tep/tpm"
)

// input is the verifier's input for a quote by e's activated AK.
func (e *enrolled) input(n []byte) quote.Input {
	return quote.Input{AKPublic: e.req.AKPublic, ActivatedName: e.ak.Name, Nonce: n,
		Policy: quote.Policy{Banks: []string{"sha256", "sha384"}}}
}

func (e *enrolled) quote(t *testing.T, n []byte) attest.Evidence {
	t.Helper()
	ev, err := e.agent.Quote(attest.QuoteRequest{Nonce: n})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func faultNames(t *testing.T, ev attest.Evidence, in quote.Input) []string {
	t.Helper()
	r, err := quote.Verify(ev, in)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range r.Faults {
		out = append(out, f.Name)
	}
	return out
}

func wantFaults(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: faults %v, want %v", what, got, want)
	}
}

// TestAttacks runs the attacks on enrolment and quotes against two real
// TPMs and checks what the verifier side says of each.
func TestAttacks(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca")
	a := enroll(t, newDevice(t, ca, agent.Config{EK: "rsa"}))
	b := enroll(t, newDevice(t, filepath.Join(t.TempDir(), "ca-b"), agent.Config{EK: "rsa"}))

	n1, n2 := nonce(t), nonce(t)
	q1 := a.quote(t, n1)
	wantFaults(t, "good quote", faultNames(t, q1, a.input(n1)))
	wantFaults(t, "replayed quote", faultNames(t, q1, a.input(n2)), attest.FaultQuoteNonce)
	wantFaults(t, "another TPM's AK", faultNames(t, b.quote(t, n1), a.input(n1)), attest.FaultQuoteSignature)

	// The clock: a later quote is accepted after an earlier one, never
	// the other way round.
	q2 := a.quote(t, n2)
	r1, _ := quote.Verify(q1, a.input(n1))
	in := a.input(n2)
	in.Prev = &r1.State
	wantFaults(t, "clock forward", faultNames(t, q2, in))
	r2, _ := quote.Verify(q2, a.input(n2))
	in = a.input(n1)
	in.Prev = &r2.State
	wantFaults(t, "clock back", faultNames(t, q1, in), attest.FaultQuoteClock)

	// EK certificates: from another vendor's CA, or for another EK.
	if _, err := ekcert.Verify(b.req.EKCert, b.req.EKPublic, caOptions(t, ca)); !errors.Is(err, ekcert.ErrUntrusted) {
		t.Errorf("EK certificate from an unknown CA: %v, want ErrUntrusted", err)
	}
	if _, err := ekcert.Verify(a.req.EKCert, b.req.EKPublic, caOptions(t, ca)); !errors.Is(err, ekcert.ErrKeyMismatch) {
		t.Errorf("EK public of another TPM: %v, want ErrKeyMismatch", err)
	}

	// Credentials open only in the TPM with that EK, for that AK.
	secret := []byte("0123456789abcdef0123456789abcdef")
	forB, _ := credential.Make(b.req.EKPublic, a.ak.Name, secret)
	if _, err := a.agent.Activate(attest.Challenge{Credential: forB}); err == nil {
		t.Error("a credential for another TPM's EK activates")
	}
	forOtherAK, _ := credential.Make(a.req.EKPublic, b.ak.Name, secret)
	if _, err := a.agent.Activate(attest.Challenge{Credential: forOtherAK}); err == nil {
		t.Error("a credential for another AK's name activates")
	}

	// A new AK is not trusted until it is activated too.
	if _, err := a.agent.Enroll("host-1", ""); err != nil {
		t.Fatal(err)
	}
	swapped := a.quote(t, n1)
	newAK, _ := a.agent.AKName()
	in = a.input(n1)
	in.AKPublic = akPublicOf(t, a)
	wantFaults(t, "AK swapped after activation", faultNames(t, swapped, in), attest.FaultAKNotActivated)
	in.ActivatedName = newAK
	wantFaults(t, "the new AK once activated", faultNames(t, swapped, in))
}

// akPublicOf enrols nothing: it reads the AK public area the last
// Enroll sent, through a fresh Enroll's twin, the agent's state file.
func akPublicOf(t *testing.T, e *enrolled) []byte {
	t.Helper()
	var st struct {
		Template []byte `json:"ak_template"`
	}
	b, err := os.ReadFile(filepath.Join(e.dir, "agent", "agent.json"))
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(b, &st)
	tmpl, err := tpm2.Unmarshal[tpm2.TPMTPublic](st.Template)
	if err != nil {
		t.Fatal(err)
	}
	var pub []byte
	e.tpm.Do(func(tr transport.TPM) error {
		rsp, err := tpm2.CreatePrimary{
			PrimaryHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHEndorsement, Auth: tpm2.PasswordAuth(nil)},
			InPublic:      tpm2.New2B(*tmpl),
		}.Execute(tr)
		if err != nil {
			t.Fatal(err)
		}
		tpm2.FlushContext{FlushHandle: rsp.ObjectHandle}.Execute(tr)
		pub = rsp.OutPublic.Bytes()
		return nil
	})
	return pub
}

// TestResetCountDown restarts the TPM (TPM2_Startup(CLEAR), a TPM reset:
// resetCount goes up) between two quotes; the verifier that accepted the
// later one refuses the earlier. A restart without TPM2_Shutdown leaves
// the TPM unsure that it never showed a later clock: safe is NO.
func TestResetCountDown(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca")
	dir := t.TempDir()
	absent := filepath.Join(dir, "absent") // no IMA or boot log on this device
	cfg := agent.Config{StateDir: filepath.Join(t.TempDir(), "agent"), EK: "rsa",
		IMALogPath: absent, BootLogPath: absent}
	var p *swtpm.Process
	var tp *tpm.TPM
	var ag *agent.Agent
	boot := func(orderly bool) {
		if tp != nil {
			if orderly {
				if _, err := (tpm2.Shutdown{ShutdownType: tpm2.TPMSUClear}).Execute(tp); err != nil {
					t.Fatal(err)
				}
			}
			tp.Close()
			p.Stop()
		}
		var err error
		p, err = swtpm.Start(swtpm.Config{State: dir, TCP: true, Manufacture: &swtpm.Manufacture{
			PCRBanks: []string{"sha256", "sha384"}, EKCert: true, CADir: ca}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Stop)
		if tp, err = tpm.Open(p.Spec, ""); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tp.Close() })
		if ag, err = agent.New(tp, cfg); err != nil {
			t.Fatal(err)
		}
	}
	boot(false)
	req, err := ag.Enroll("host-1", "")
	if err != nil {
		t.Fatal(err)
	}
	ak, _ := quote.ParseAK(req.AKPublic)
	in := quote.Input{AKPublic: req.AKPublic, ActivatedName: ak.Name}
	verify := func(n []byte, prev *quote.State) (attest.Evidence, *quote.Result) {
		ev, err := ag.Quote(attest.QuoteRequest{Nonce: n})
		if err != nil {
			t.Fatalf("quoting with the AK recreated after a reset: %v", err)
		}
		in.Nonce, in.Prev = n, prev
		r, err := quote.Verify(ev, in)
		if err != nil {
			t.Fatal(err)
		}
		return ev, r
	}
	n1 := nonce(t)
	q1, r1 := verify(n1, nil)
	boot(true)
	_, r2 := verify(nonce(t), &r1.State)
	if !r2.OK() || r2.State.ResetCount <= r1.State.ResetCount {
		t.Fatalf("quote after reset: faults %+v, resetCount %d then %d", r2.Faults, r1.State.ResetCount, r2.State.ResetCount)
	}
	in.Nonce, in.Prev = n1, &r2.State
	wantFaults(t, "resetCount down", faultNames(t, q1, in), attest.FaultQuoteResetCount)

	boot(false)
	_, r3 := verify(nonce(t), &r2.State)
	var got []string
	for _, f := range r3.Faults {
		got = append(got, f.Name)
	}
	wantFaults(t, "after a restart without shutdown", got, attest.FaultQuoteNotSafe)
}

// TestSHA1Only quotes on a TPM whose only bank is SHA-1.
func TestSHA1Only(t *testing.T) {
	dir := t.TempDir()
	p, err := swtpm.Start(swtpm.Config{State: filepath.Join(dir, "state"), TCP: true, Manufacture: &swtpm.Manufacture{
		PCRBanks: []string{"sha1"}, EKCert: true, CADir: filepath.Join(dir, "ca")}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	tp, err := tpm.Open(p.Spec, "")
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	ag, err := agent.New(tp, agent.Config{StateDir: filepath.Join(dir, "agent"),
		IMALogPath: filepath.Join(dir, "absent"), BootLogPath: filepath.Join(dir, "absent")})
	if err != nil {
		t.Fatal(err)
	}
	req, err := ag.Enroll("host-1", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ag.Quote(attest.QuoteRequest{Nonce: []byte("n")}); err == nil {
		t.Error("Quote with the default banks succeeds on a SHA-1-only TPM")
	}
	n := nonce(t)
	ev, err := ag.Quote(attest.QuoteRequest{Nonce: n, Banks: []string{"sha1"}})
	if err != nil {
		t.Fatal(err)
	}
	ak, _ := quote.ParseAK(req.AKPublic)
	in := quote.Input{AKPublic: req.AKPublic, ActivatedName: ak.Name, Nonce: n}
	wantFaults(t, "SHA-1 only", faultNames(t, ev, in), attest.FaultQuoteSHA1Only, attest.FaultQuoteBankMissing)
	in.Policy = quote.Policy{Banks: []string{"sha1"}, AllowSHA1Only: true}
	wantFaults(t, "SHA-1 only, allowed", faultNames(t, ev, in))
}

// rogueKey creates a restricted ECDSA signing key as a primary of
// hierarchy h, as an attacker with the TPM could; the caller flushes it.
func rogueKey(t *testing.T, tr transport.TPM, h tpm2.TPMHandle) *tpm2.CreatePrimaryResponse {
	t.Helper()
	unique := make([]byte, 32)
	rand.Read(unique)
	rsp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.AuthHandle{Handle: h, Auth: tpm2.PasswordAuth(nil)},
		InPublic: tpm2.New2B(tpm2.TPMTPublic{
			Type: tpm2.TPMAlgECC, NameAlg: tpm2.TPMAlgSHA256,
			ObjectAttributes: tpm2.TPMAObject{FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true,
				UserWithAuth: true, NoDA: true, Restricted: true, SignEncrypt: true},
			Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
				Scheme: tpm2.TPMTECCScheme{Scheme: tpm2.TPMAlgECDSA,
					Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256})},
				CurveID: tpm2.TPMECCNistP256,
			}),
			Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{X: tpm2.TPM2BECCParameter{Buffer: unique}}),
		}),
	}.Execute(tr)
	if err != nil {
		t.Fatal(err)
	}
	return rsp
}

// TestSignedButNotAQuote has the AK sign what is not a quote: data of
// the attacker's (the TPM signs it with a restricted key only if it does
// not start with TPM_GENERATED_VALUE), and a TPM2_Certify; and has a key
// of the owner hierarchy, whose qualified name differs, quote.
func TestSignedButNotAQuote(t *testing.T) {
	d := newDevice(t, filepath.Join(t.TempDir(), "ca"), agent.Config{EK: "rsa"})
	n := nonce(t)
	zeros := attest.PCRBank{Bank: "sha256", Values: map[int][]byte{}}
	for i := range 11 {
		zeros.Values[i] = make([]byte, 32)
	}
	pcrs := tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{Hash: tpm2.TPMAlgSHA256, PCRSelect: []byte{0xff, 0x07, 0}}}}
	err := d.tpm.Do(func(tr transport.TPM) error {
		k := rogueKey(t, tr, tpm2.TPMRHEndorsement)
		defer tpm2.FlushContext{FlushHandle: k.ObjectHandle}.Execute(tr)
		key := tpm2.AuthHandle{Handle: k.ObjectHandle, Name: k.Name, Auth: tpm2.PasswordAuth(nil)}
		in := quote.Input{AKPublic: k.OutPublic.Bytes(), ActivatedName: k.Name.Buffer, Nonce: n,
			Policy: quote.Policy{Banks: []string{"sha256"}}}

		// The key quotes: all good.
		q, err := tpm2.Quote{SignHandle: key, QualifyingData: tpm2.TPM2BData{Buffer: n},
			InScheme: tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull}, PCRSelect: pcrs}.Execute(tr)
		if err != nil {
			return err
		}
		ev := attest.Evidence{Quote: q.Quoted.Bytes(), Signature: tpm2.Marshal(q.Signature), PCRs: []attest.PCRBank{zeros}}
		wantFaults(t, "the rogue key's own quote", faultNames(t, ev, in))

		// The key signs data that imitates a quote but for its magic.
		fake := slices.Clone(ev.Quote)
		copy(fake, []byte("TCG\xfe"))
		h, err := tpm2.Hash{Data: tpm2.TPM2BMaxBuffer{Buffer: fake}, HashAlg: tpm2.TPMAlgSHA256, Hierarchy: tpm2.TPMRHEndorsement}.Execute(tr)
		if err != nil {
			return err
		}
		s, err := tpm2.Sign{KeyHandle: key, Digest: h.OutHash, InScheme: tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
			Validation: h.Validation}.Execute(tr)
		if err != nil {
			return err
		}
		ev.Quote, ev.Signature = fake, tpm2.Marshal(s.Signature)
		wantFaults(t, "signed data that is not TPM-generated", faultNames(t, ev, in), attest.FaultQuoteNotGenerated)

		// The key certifies itself: TPM-generated, but not a quote.
		c, err := tpm2.Certify{ObjectHandle: key, SignHandle: key, QualifyingData: tpm2.TPM2BData{Buffer: n},
			InScheme: tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull}}.Execute(tr)
		if err != nil {
			return err
		}
		ev.Quote, ev.Signature = c.CertifyInfo.Bytes(), tpm2.Marshal(c.Signature)
		wantFaults(t, "a certification, not a quote", faultNames(t, ev, in), attest.FaultQuoteType)

		// A key of the owner hierarchy quotes: its qualified name is not
		// that of an endorsement primary.
		o := rogueKey(t, tr, tpm2.TPMRHOwner)
		defer tpm2.FlushContext{FlushHandle: o.ObjectHandle}.Execute(tr)
		q, err = tpm2.Quote{SignHandle: tpm2.AuthHandle{Handle: o.ObjectHandle, Name: o.Name, Auth: tpm2.PasswordAuth(nil)},
			QualifyingData: tpm2.TPM2BData{Buffer: n}, InScheme: tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull}, PCRSelect: pcrs}.Execute(tr)
		if err != nil {
			return err
		}
		ev = attest.Evidence{Quote: q.Quoted.Bytes(), Signature: tpm2.Marshal(q.Signature), PCRs: []attest.PCRBank{zeros}}
		in.AKPublic, in.ActivatedName = o.OutPublic.Bytes(), o.Name.Buffer
		wantFaults(t, "a quote by a key of the owner hierarchy", faultNames(t, ev, in), attest.FaultQuoteSigner)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
