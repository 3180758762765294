package agent_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/agent"
	"tep.dev/tep/attest/quote"
)

func TestNewRejects(t *testing.T) {
	d := newDevice(t, filepath.Join(t.TempDir(), "ca"), agent.Config{EK: "rsa"})
	for _, c := range []struct {
		name string
		cfg  agent.Config
	}{
		{"no state dir", agent.Config{}},
		{"EK type", agent.Config{StateDir: t.TempDir(), EK: "rsa1024"}},
		{"AK type", agent.Config{StateDir: t.TempDir(), AK: "dsa"}},
	} {
		if _, err := agent.New(d.tpm, c.cfg); err == nil {
			t.Errorf("%s: New succeeded", c.name)
		}
	}
	if _, err := agent.New(nil, agent.Config{StateDir: t.TempDir()}); err == nil {
		t.Error("New without a TPM succeeded")
	}
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "agent.json"), []byte("{"), 0o600)
	if _, err := agent.New(d.tpm, agent.Config{StateDir: bad}); err == nil {
		t.Error("New with a corrupt state file succeeded")
	}
}

func TestNotEnrolled(t *testing.T) {
	d := newDevice(t, filepath.Join(t.TempDir(), "ca"), agent.Config{EK: "rsa"})
	if _, err := d.agent.Quote(attest.QuoteRequest{Nonce: []byte("n")}); !errors.Is(err, agent.ErrNotEnrolled) {
		t.Errorf("Quote before Enroll: %v, want ErrNotEnrolled", err)
	}
	if _, err := d.agent.Activate(attest.Challenge{}); !errors.Is(err, agent.ErrNotEnrolled) {
		t.Errorf("Activate before Enroll: %v, want ErrNotEnrolled", err)
	}
	if _, err := d.agent.AKName(); !errors.Is(err, agent.ErrNotEnrolled) {
		t.Errorf("AKName before Enroll: %v, want ErrNotEnrolled", err)
	}
	if _, err := d.agent.Enroll("", ""); err == nil {
		t.Error("Enroll without a host id succeeded")
	}
	// swtpm_setup writes RSA 2048 and P-384 EK certificates, no P-256.
	p256, err := agent.New(d.tpm, agent.Config{StateDir: t.TempDir(), EK: "p256"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p256.Enroll("host-1", ""); err == nil || !strings.Contains(err.Error(), "no EK certificate") {
		t.Errorf("Enroll with a P-256 EK the TPM lacks: %v", err)
	}
}

func TestQuoteRequestBounds(t *testing.T) {
	e := enroll(t, newDevice(t, filepath.Join(t.TempDir(), "ca"), agent.Config{EK: "rsa"}))
	for _, req := range []attest.QuoteRequest{
		{},
		{Nonce: make([]byte, 65)},
		{Nonce: []byte("n"), PCRs: []int{24}},
		{Nonce: []byte("n"), PCRs: []int{-1}},
		{Nonce: []byte("n"), Banks: []string{"md5"}},
		{Nonce: []byte("n"), Banks: []string{"sha512"}}, // not allocated
	} {
		if _, err := e.agent.Quote(req); err == nil {
			t.Errorf("Quote(%+v) succeeded", req)
		}
	}
	// Still good after the refusals, and a fresh Agent reads its state.
	again, err := agent.New(e.tpm, agent.Config{StateDir: filepath.Join(e.dir, "agent")})
	if err != nil {
		t.Fatal(err)
	}
	n := nonce(t)
	ev, err := again.Quote(attest.QuoteRequest{Nonce: n, PCRs: []int{0, 16, 23}, Banks: []string{"sha384"}})
	if err != nil {
		t.Fatal(err)
	}
	in := e.input(n)
	in.Policy = quote.Policy{Banks: []string{"sha384"}, PCRs: []int{0, 16, 23}}
	wantFaults(t, "PCRs 0, 16, 23 in sha384", faultNames(t, ev, in))
	if ev.HostID != "host-1" {
		t.Errorf("evidence for host %q, want host-1", ev.HostID)
	}
}

// TestLogsAndConcurrency sends the IMA and boot logs there are, and
// quotes from several goroutines at once.
func TestLogsAndConcurrency(t *testing.T) {
	dir := t.TempDir()
	ima, boot := filepath.Join(dir, "ima"), filepath.Join(dir, "boot")
	os.WriteFile(ima, []byte("ima log"), 0o600)
	os.WriteFile(boot, []byte("boot log"), 0o600)
	e := enroll(t, newDevice(t, filepath.Join(t.TempDir(), "ca"), agent.Config{EK: "rsa", IMALogPath: ima, BootLogPath: boot}))
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			n := make([]byte, 16)
			copy(n, "concurrent")
			ev, err := e.agent.Quote(attest.QuoteRequest{Nonce: n})
			if err == nil && (string(ev.IMALog) != "ima log" || string(ev.BootLog) != "boot log" || ev.IMAFrom != 0) {
				err = errors.New("logs not sent whole")
			}
			if err == nil {
				if r, _ := quote.Verify(ev, e.input(n)); !r.OK() {
					err = errors.New("concurrent quote does not verify")
				}
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	// A log that exists but cannot be read fails the quote: sending
	// evidence without it would look like a host without IMA.
	os.Remove(ima)
	os.Mkdir(ima, 0o700)
	if _, err := e.agent.Quote(attest.QuoteRequest{Nonce: []byte("n")}); err == nil {
		t.Error("Quote with an unreadable IMA log succeeded")
	}
}

// TestEndorsementSeedChanged: after TPM2_ChangeEPS the endorsement seed
// gives other keys; the agent says the AK is gone instead of quoting
// with a stranger.
func TestEndorsementSeedChanged(t *testing.T) {
	e := enroll(t, newDevice(t, filepath.Join(t.TempDir(), "ca"), agent.Config{EK: "rsa"}))
	// go-tpm has no TPM2_ChangeEPS (TPM 2.0 Part 3, 24.9): its handle is
	// TPM_RH_PLATFORM, authorised by its empty password.
	cmd := []byte{0x80, 0x02, 0, 0, 0, 27, 0, 0, 0x01, 0x24, 0x40, 0, 0, 0x0c,
		0, 0, 0, 9, 0x40, 0, 0, 0x09, 0, 0, 0x01, 0, 0}
	rsp, err := e.tpm.Send(cmd)
	if err != nil || len(rsp) < 10 || !bytes.Equal(rsp[6:10], []byte{0, 0, 0, 0}) {
		t.Fatalf("TPM2_ChangeEPS = %x, %v", rsp, err)
	}
	if _, err := e.agent.Quote(attest.QuoteRequest{Nonce: []byte("n")}); err == nil || !strings.Contains(err.Error(), "enrol again") {
		t.Errorf("Quote after ChangeEPS: %v, want the AK gone", err)
	}
	if _, err := e.agent.Activate(attest.Challenge{Credential: []byte{0xba, 0xdc, 0xc0, 0xde, 0, 0, 0, 1, 0, 1, 1, 0, 1, 1}}); err == nil {
		t.Error("Activate after ChangeEPS succeeded")
	}
	// The EK changed too: its certificate no longer matches.
	if _, err := e.agent.Enroll("host-1", ""); !errors.Is(err, agent.ErrEKMismatch) {
		t.Errorf("Enroll after ChangeEPS: %v, want ErrEKMismatch", err)
	}
}
