package agent

import (
	"encoding/binary"
	"errors"
	"path/filepath"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/quote"
	"tep.dev/tep/internal/swtpm"
	"tep.dev/tep/tpm"
)

// mover is a TPM on which another process extends PCR 10 just before
// each of the next n TPM2_Quote commands, as one could through a
// resource manager.
type mover struct {
	tr transport.TPM
	n  int
}

func (m *mover) Send(cmd []byte) ([]byte, error) {
	if m.n > 0 && len(cmd) >= 10 && tpm2.TPMCC(binary.BigEndian.Uint32(cmd[6:])) == tpm2.TPMCCQuote {
		m.n--
		_, err := tpm2.PCREvent{
			PCRHandle: tpm2.AuthHandle{Handle: 10, Auth: tpm2.PasswordAuth(nil)},
			EventData: tpm2.TPM2BEvent{Buffer: []byte("meanwhile")},
		}.Execute(m.tr)
		if err != nil {
			return nil, err
		}
	}
	return m.tr.Send(cmd)
}

// TestQuoteRereads quotes while PCR 10 moves between the PCR reads and
// the quote: the agent reads again until they agree, and gives up after
// quoteTries attempts.
func TestQuoteRereads(t *testing.T) {
	dir := t.TempDir()
	p, err := swtpm.Start(swtpm.Config{State: filepath.Join(dir, "state"), TCP: true, Manufacture: &swtpm.Manufacture{
		PCRBanks: []string{"sha256", "sha384"}, EKCert: true, CADir: filepath.Join(dir, "ca")}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	tp, err := tpm.Open(p.Spec, "")
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	a, err := New(tp, Config{StateDir: filepath.Join(dir, "agent")})
	if err != nil {
		t.Fatal(err)
	}
	req, err := a.Enroll("host-1", "")
	if err != nil {
		t.Fatal(err)
	}
	ak, _ := quote.ParseAK(req.AKPublic)
	n := []byte("nonce")
	for _, moves := range []int{quoteTries - 1, quoteTries} {
		var ev attest.Evidence
		var qerr error
		err := tp.Do(func(tr transport.TPM) error {
			qerr = quotePCRs(&mover{tr: tr, n: moves}, *a.st, n, defaultPCRs, defaultBanks, &ev)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if moves == quoteTries {
			if !errors.Is(qerr, ErrPCRsMoving) {
				t.Errorf("PCRs moving at every try: %v, want ErrPCRsMoving", qerr)
			}
			continue
		}
		r, err := quote.Verify(ev, quote.Input{AKPublic: req.AKPublic, ActivatedName: ak.Name, Nonce: n})
		if err != nil || !r.OK() {
			t.Errorf("quote after %d moves: %+v, %v", moves, r.Faults, err)
		}
	}
}
