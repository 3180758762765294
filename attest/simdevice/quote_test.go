package simdevice

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"

	"tep.dev/tep/attest"
)

// checkQuote parses ev's quote and signature with go-tpm and checks them
// as a verifier must, against the AK of enrolment req; it returns the
// parsed quote.
func checkQuote(t *testing.T, req attest.EnrollRequest, nonce []byte, ev attest.Evidence) *tpm2.TPMSAttest {
	t.Helper()
	q, err := tpm2.Unmarshal[tpm2.TPMSAttest](ev.Quote)
	if err != nil {
		t.Fatalf("quote: %v", err)
	}
	sig, err := tpm2.Unmarshal[tpm2.TPMTSignature](ev.Signature)
	if err != nil {
		t.Fatalf("signature: %v", err)
	}
	// The hand-made encodings are go-tpm's, byte for byte.
	if !bytes.Equal(tpm2.Marshal(q), ev.Quote) || !bytes.Equal(tpm2.Marshal(sig), ev.Signature) {
		t.Errorf("go-tpm encodes the parsed quote and signature as %x and %x, the device sent %x and %x",
			tpm2.Marshal(q), tpm2.Marshal(sig), ev.Quote, ev.Signature)
	}
	ak, _ := tpm2.Unmarshal[tpm2.TPMTPublic](req.AKPublic)
	name, _ := tpm2.ObjectName(ak)
	// The AK is a primary key of the endorsement hierarchy: its qualified
	// name is nameAlg || SHA-256(TPM_RH_ENDORSEMENT || name).
	qn := sha256.Sum256(append([]byte{0x40, 0, 0, 0x0b}, name.Buffer...))
	if q.Type != tpm2.TPMSTAttestQuote || !bytes.Equal(q.QualifiedSigner.Buffer, append([]byte{0, 0x0b}, qn[:]...)) ||
		!bytes.Equal(q.ExtraData.Buffer, nonce) || !q.ClockInfo.Safe || q.FirmwareVersion != defaultFirmware {
		t.Errorf("quote type %#x signer %x nonce %x clock %+v firmware %#x", q.Type, q.QualifiedSigner.Buffer, q.ExtraData.Buffer, q.ClockInfo, q.FirmwareVersion)
	}
	info, err := q.Attested.Quote()
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	for i, s := range info.PCRSelect.PCRSelections {
		if i >= len(ev.PCRs) {
			t.Fatalf("quote selects %d banks, evidence has %d", len(info.PCRSelect.PCRSelections), len(ev.PCRs))
		}
		b, _ := bankByName(ev.PCRs[i].Bank)
		if s.Hash != b.alg {
			t.Errorf("selection %d is of %v, evidence of %s", i, s.Hash, b.name)
		}
		for pcr := range maxPCR + 1 {
			if s.PCRSelect[pcr/8]&(1<<(pcr%8)) == 0 {
				continue
			}
			v, ok := ev.PCRs[i].Values[pcr]
			if !ok {
				t.Fatalf("PCR %d of %s selected but not reported", pcr, b.name)
			}
			h.Write(v)
		}
	}
	if !bytes.Equal(info.PCRDigest.Buffer, h.Sum(nil)) {
		t.Errorf("PCR digest %x, want the digest of the reported values %x", info.PCRDigest.Buffer, h.Sum(nil))
	}
	if err := verifySignature(ak, ev.Quote, ev.Signature); err != nil {
		t.Errorf("quote signature: %v", err)
	}
	return q
}

// verifySignature checks a TPMT_SIGNATURE over msg with the AK.
func verifySignature(ak *tpm2.TPMTPublic, msg, sig []byte) error {
	s, err := tpm2.Unmarshal[tpm2.TPMTSignature](sig)
	if err != nil {
		return err
	}
	pub, err := tpm2.Pub(*ak)
	if err != nil {
		return err
	}
	digest := sha256.Sum256(msg)
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		e, err := s.Signature.ECDSA()
		if err != nil {
			return err
		}
		if e.Hash != tpm2.TPMAlgSHA256 || !ecdsa.Verify(k, digest[:], new(big.Int).SetBytes(e.SignatureR.Buffer), new(big.Int).SetBytes(e.SignatureS.Buffer)) {
			return errors.New("ECDSA signature does not verify")
		}
		return nil
	case *rsa.PublicKey:
		r, err := s.Signature.RSASSA()
		if err != nil {
			return err
		}
		if r.Hash != tpm2.TPMAlgSHA256 {
			return errors.New("not SHA-256")
		}
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], r.Sig.Buffer)
	}
	return fmt.Errorf("AK of type %T", pub)
}

// TestEvidence checks a device's reports: quotes that parse and verify,
// a clock that goes forward, PCR 10 that follows the log, and the log
// sent from where the verifier asks.
func TestEvidence(t *testing.T) {
	for _, ak := range []string{KeyP256, KeyRSA2048} {
		t.Run(ak, func(t *testing.T) {
			src := newTestLog()
			now := time.Unix(1_800_000_000, 0)
			clock := func() time.Time { return now }
			f := newFleet(t, Config{Devices: 1, AK: ak, IMA: src, IMAEntries: 100, IMAStep: 7, Now: clock})
			d := f.Devices[0]
			enrol := d.Enroll("")
			req := attest.QuoteRequest{Nonce: []byte("nonce-1"), PCRs: []int{10, 0, 7, 0}, Banks: []string{"sha384", "sha256"}}
			ev, err := d.Evidence(req)
			if err != nil {
				t.Fatal(err)
			}
			q1 := checkQuote(t, enrol, req.Nonce, ev)
			if ev.HostID != d.HostID || ev.IMAFrom != 0 || len(ev.PCRs) != 2 || ev.PCRs[0].Bank != "sha384" || len(ev.PCRs[0].Values) != 3 {
				t.Errorf("Evidence = host %q from %d banks %+v", ev.HostID, ev.IMAFrom, ev.PCRs)
			}
			checkLog(t, src, ev, 0, 100)

			// A verifier that holds 100 entries gets the 7 new ones; the
			// clock goes forward even when time stands still.
			req.Nonce, req.IMAFrom = []byte("nonce-2"), 100
			ev2, err := d.Evidence(req)
			if err != nil {
				t.Fatal(err)
			}
			q2 := checkQuote(t, enrol, req.Nonce, ev2)
			if q2.ClockInfo.Clock <= q1.ClockInfo.Clock {
				t.Errorf("clock %d after %d, want it forward", q2.ClockInfo.Clock, q1.ClockInfo.Clock)
			}
			checkLog(t, src, ev2, 100, 107)
			if bytes.Equal(ev.PCRs[0].Values[10], ev2.PCRs[0].Values[10]) {
				t.Error("PCR 10 did not change as the log grew")
			}
			now = now.Add(time.Minute)
			req.Nonce, req.IMAFrom = []byte("nonce-3"), 0
			ev3, err := d.Evidence(attest.QuoteRequest{Nonce: []byte("n3"), PCRs: []int{10}, Banks: []string{"sha256"}, IMAFrom: 500})
			if err != nil {
				t.Fatal(err)
			}
			q3 := checkQuote(t, enrol, []byte("n3"), ev3)
			if q3.ClockInfo.Clock != 60_000 {
				t.Errorf("clock %d a minute after the device started, want 60000", q3.ClockInfo.Clock)
			}
			checkLog(t, src, ev3, 0, 114)
			ev4, _ := d.Evidence(attest.QuoteRequest{Nonce: []byte("n4"), PCRs: []int{10}, Banks: []string{"sha256"}, IMAFrom: 5, FullIMA: true})
			checkLog(t, src, ev4, 0, 121)
			if d.IMALen() != 121 {
				t.Errorf("IMALen = %d, want 121", d.IMALen())
			}

			// The checks above fail on a changed quote.
			bad := bytes.Clone(ev.Quote)
			bad[len(bad)-1] ^= 1
			akPub, _ := tpm2.Unmarshal[tpm2.TPMTPublic](enrol.AKPublic)
			if err := verifySignature(akPub, bad, ev.Signature); err == nil {
				t.Error("the signature verifies over a changed quote")
			}
		})
	}
}

// checkLog checks that ev carries entries [from, to) of src's log and
// that PCR 10 in each bank is their replay.
func checkLog(t *testing.T, src *testLog, ev attest.Evidence, from, to int) {
	t.Helper()
	if ev.IMAFrom != from || !bytes.Equal(ev.IMALog, src.bytes(from, to)) {
		t.Errorf("IMA log from %d of %d bytes, want entries %d to %d", ev.IMAFrom, len(ev.IMALog), from, to)
	}
	for _, pb := range ev.PCRs {
		b, _ := bankByName(pb.Bank)
		if want := src.replay(b, to); !bytes.Equal(pb.Values[10], want) {
			t.Errorf("PCR 10 in %s = %x, want the replay of %d entries %x", pb.Bank, pb.Values[10], to, want)
		}
	}
}

// TestEvidenceRefused checks the requests a TPM would refuse.
func TestEvidenceRefused(t *testing.T) {
	f := newFleet(t, Config{Devices: 1})
	d := f.Devices[0]
	for name, req := range map[string]attest.QuoteRequest{
		"no PCRs":       {Banks: []string{"sha256"}},
		"no banks":      {PCRs: []int{0}},
		"PCR 24":        {PCRs: []int{0, 24}, Banks: []string{"sha256"}},
		"PCR -1":        {PCRs: []int{-1}, Banks: []string{"sha256"}},
		"absent bank":   {PCRs: []int{0}, Banks: []string{"sha1"}},
		"unknown bank":  {PCRs: []int{0}, Banks: []string{"md5"}},
		"bank twice":    {PCRs: []int{0}, Banks: []string{"sha256", "sha256"}},
		"65-byte nonce": {PCRs: []int{0}, Banks: []string{"sha256"}, Nonce: make([]byte, 65)},
	} {
		if _, err := d.Evidence(req); !errors.Is(err, ErrQuoteRequest) {
			t.Errorf("Evidence(%s) = %v, want ErrQuoteRequest", name, err)
		}
	}
	// Without an IMA log PCR 10 stays zero and no log is sent.
	ev, err := d.Evidence(attest.QuoteRequest{PCRs: []int{10}, Banks: []string{"sha256"}})
	if err != nil || ev.IMALog != nil || !bytes.Equal(ev.PCRs[0].Values[10], make([]byte, 32)) {
		t.Errorf("Evidence without a log = %+v, %v", ev, err)
	}
	// A source that lacks a bank is an error, not a wrong PCR.
	g := newFleet(t, Config{Devices: 1, Banks: []string{"sha512"}, IMA: newTestLog(), IMAEntries: 3})
	if _, err := g.Devices[0].Evidence(attest.QuoteRequest{PCRs: []int{10}, Banks: []string{"sha512"}}); err == nil {
		t.Error("Evidence with a log source lacking the bank succeeded")
	}
}

// TestEvidenceConcurrent runs reports of several devices at once, for
// the race detector, and checks every one.
func TestEvidenceConcurrent(t *testing.T) {
	src := newTestLog()
	f := newFleet(t, Config{Devices: 4, IMA: src, IMAEntries: 20, IMAStep: 3})
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	evs := make([][]attest.Evidence, len(f.Devices))
	for i, d := range f.Devices {
		wg.Go(func() {
			for range 10 {
				ev, err := d.Evidence(attest.QuoteRequest{Nonce: []byte{byte(i)}, PCRs: []int{0, 10}, Banks: []string{"sha256", "sha384"}})
				if err != nil {
					errs <- err
					return
				}
				evs[i] = append(evs[i], ev)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i, d := range f.Devices {
		for j, ev := range evs[i] {
			checkQuote(t, d.Enroll(""), []byte{byte(i)}, ev)
			checkLog(t, src, ev, 0, 20+3*j)
		}
	}
}

// testLog is a LogSource of opaque entries, for the bookkeeping of the
// shared log; each entry's digest in a bank is the bank's hash of its
// bytes. It has no sha512 bank.
type testLog struct {
	entries  [][]byte
	extended map[string][][]byte
}

func newTestLog() *testLog { return &testLog{extended: map[string][][]byte{}} }

func (l *testLog) Append(n int) []byte {
	var out []byte
	for range n {
		e := fmt.Appendf(nil, "entry %d;", len(l.entries))
		l.entries = append(l.entries, e)
		out = append(out, e...)
		for _, b := range banks[:3] {
			h := b.hash.New()
			h.Write(e)
			l.extended[b.name] = append(l.extended[b.name], h.Sum(nil))
		}
	}
	return out
}

func (l *testLog) Extended(bank string) [][]byte { return l.extended[bank] }

func (l *testLog) bytes(from, to int) []byte {
	return slices.Concat(l.entries[from:to]...)
}

func (l *testLog) replay(b bank, n int) []byte {
	pcr := make([]byte, b.hash.Size())
	for _, e := range l.entries[:n] {
		h := b.hash.New()
		h.Write(e)
		pcr = extend(b.hash, pcr, h.Sum(nil))
	}
	return pcr
}
