package agent_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/agent"
	"tep.dev/tep/attest/ima"
	"tep.dev/tep/attest/ima/imagen"
	"tep.dev/tep/attest/quote"
)

// imaHost is a device whose kernel measures synthetic files: the IMA log
// in a file, PCR 10 extended to match in both banks.
type imaHost struct {
	*enrolled
	gen  *imagen.Generator
	path string
}

func (h *imaHost) measure(t *testing.T, n int) {
	t.Helper()
	start := h.gen.Len()
	h.gen.Append(n)
	if err := os.WriteFile(h.path, h.gen.Log(), 0o600); err != nil {
		t.Fatal(err)
	}
	for i := start; i < h.gen.Len(); i++ {
		_, err := tpm2.PCRExtend{
			PCRHandle: tpm2.AuthHandle{Handle: 10, Auth: tpm2.PasswordAuth(nil)},
			Digests: tpm2.TPMLDigestValues{Digests: []tpm2.TPMTHA{
				{HashAlg: tpm2.TPMAlgSHA256, Digest: h.gen.Extended("sha256")[i]},
				{HashAlg: tpm2.TPMAlgSHA384, Digest: h.gen.Extended("sha384")[i]},
			}},
		}.Execute(h.tpm)
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestIMASince sends the IMA log from the entry the verifier asks for,
// and the verifier's replay of each part lands on the quoted PCR 10.
func TestIMASince(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ima")
	gen, err := imagen.New(imagen.Config{Banks: []string{"sha256", "sha384"}, Seed: 18})
	if err != nil {
		t.Fatal(err)
	}
	h := &imaHost{enroll(t, newDevice(t, filepath.Join(t.TempDir(), "ca"), agent.Config{EK: "rsa", IMALogPath: path})), gen, path}
	st, err := ima.NewState("sha256", "sha384")
	if err != nil {
		t.Fatal(err)
	}
	report := func(req attest.QuoteRequest, wantFrom, wantEntries int) {
		t.Helper()
		req.Nonce = nonce(t)
		ev, err := h.agent.Quote(req)
		if err != nil {
			t.Fatal(err)
		}
		if r, err := quote.Verify(ev, h.input(req.Nonce)); err != nil || !r.OK() {
			t.Fatalf("Verify = %+v, %v", r, err)
		}
		entries, err := ima.Parse(ev.IMALog, ima.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if ev.IMAFrom != wantFrom || len(entries) != wantEntries {
			t.Fatalf("Quote(IMAFrom %d, FullIMA %v) sent %d entries from %d, want %d from %d",
				req.IMAFrom, req.FullIMA, len(entries), ev.IMAFrom, wantEntries, wantFrom)
		}
		if ev.IMAFrom == 0 {
			st, _ = ima.NewState("sha256", "sha384")
		}
		if n, faults := st.Replay(entries, ev.PCRs); faults != nil || n != wantEntries {
			t.Fatalf("replay of %d entries from %d: %d, %+v", len(entries), ev.IMAFrom, n, faults)
		}
	}
	h.measure(t, 40)
	report(attest.QuoteRequest{}, 0, 40)
	h.measure(t, 7)
	report(attest.QuoteRequest{IMAFrom: st.Entries}, 40, 7)
	report(attest.QuoteRequest{IMAFrom: st.Entries}, 47, 0)
	report(attest.QuoteRequest{IMAFrom: 12, FullIMA: true}, 0, 47)
	// The verifier holds more than the log has (the host rebooted and its
	// log restarted): the whole log.
	report(attest.QuoteRequest{IMAFrom: 1000}, 0, 47)
	// A log whose framing breaks before the cut goes whole too, for the
	// verifier to refuse.
	os.WriteFile(path, bytes.Repeat([]byte{0xff}, 64), 0o600)
	ev, err := h.agent.Quote(attest.QuoteRequest{Nonce: []byte("n"), IMAFrom: 3})
	if err != nil || ev.IMAFrom != 0 || len(ev.IMALog) != 64 {
		t.Errorf("Quote with a broken log: from %d, %d bytes, %v", ev.IMAFrom, len(ev.IMALog), err)
	}
}
