package e2e

import (
	"context"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/agentsvc"
	"tep.dev/tep/attest/api"
	"tep.dev/tep/attest/ima"
	"tep.dev/tep/attest/store"
)

// TestPullAndLimits: the pull loop attests a pull-mode host on its own;
// the pull server answers only the verifier; a host holds a bounded
// number of challenges; pull and import refuse push-mode hosts.
func TestPullAndLimits(t *testing.T) {
	ctx := context.Background()
	ca := filepath.Join(t.TempDir(), "ca")
	a := newDevice(t, "pull-1", ca, 5, 20)
	b := newDevice(t, "push-1", ca, 6, 30)
	a.advance(t, 20)
	b.advance(t, 20)
	f := newFleet(t, ca, nil)
	agentClient := f.client(t, "", nil)
	pullURL, pullCert := a.pullServer(t, f.certPEM)
	if _, err := agentsvc.Enroll(ctx, a.agent, agentClient, a.id, f.token(t, store.RoleEnroll), pullURL, pullCert); err != nil {
		t.Fatal(err)
	}
	if _, err := agentsvc.Enroll(ctx, b.agent, agentClient, b.id, f.token(t, store.RoleEnroll), "", nil); err != nil {
		t.Fatal(err)
	}

	t.Run("pull loop", func(t *testing.T) {
		lctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { f.v.PullLoop(lctx, 20*time.Millisecond, 5*time.Second, 2); close(done) }()
		defer func() { cancel(); <-done }()
		for i := 0; ; i++ {
			rs, err := f.s.Reports(ctx, store.ReportQuery{HostID: a.id})
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) >= 2 {
				break
			}
			if i == 200 {
				t.Fatalf("the pull loop made %d reports of %s", len(rs), a.id)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if rs, _ := f.s.Reports(ctx, store.ReportQuery{HostID: b.id}); len(rs) != 0 {
			t.Errorf("the pull loop attested the push-mode host: %d reports", len(rs))
		}
	})

	t.Run("pull server answers only the verifier", func(t *testing.T) {
		stranger, err := api.NewClient(pullURL, pemOf(pullCert), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := stranger.Do(ctx, "POST", api.QuotePath, []byte(`{"nonce":"AAAA"}`), nil); err == nil {
			t.Error("the pull server answered a client without the verifier's certificate")
		}
		verifierSide, err := api.NewClient(pullURL, pemOf(pullCert), &f.cert)
		if err != nil {
			t.Fatal(err)
		}
		// The pull loop's last quote may still be running on the agent
		// (cancelling the loop does not stop the TPM): the agent answers
		// 503 until it is done.
		for i := 0; ; i++ {
			err := verifierSide.Do(ctx, "POST", api.QuotePath, []byte(`{"nonce":"AAAA"}`), nil)
			if code, _ := statusOf(err); code != http.StatusServiceUnavailable {
				break
			}
			if i == 200 {
				t.Fatalf("the agent stayed busy: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		for _, tc := range []struct {
			body []byte
			want int
		}{
			{[]byte(`{"nonce":`), http.StatusBadRequest},
			{[]byte(`{"nonce":"AAAA","pcrs":[99]}`), http.StatusBadRequest},
			{[]byte(`{"nonce":"` + strings.Repeat("A", 8<<10) + `"}`), http.StatusRequestEntityTooLarge},
		} {
			err := verifierSide.Do(ctx, "POST", api.QuotePath, tc.body, nil)
			if code, _ := statusOf(err); code != tc.want {
				t.Errorf("POST %s %.20q: %v, want %d", api.QuotePath, tc.body, err, tc.want)
			}
		}
		// The same client's good request works: the refusals were for the
		// requests, not the client.
		if err := verifierSide.Do(ctx, "POST", api.QuotePath, []byte(`{"nonce":"AAAA"}`), nil); err != nil {
			t.Errorf("a good quote request: %v", err)
		}
	})

	t.Run("IMA log changed", func(t *testing.T) {
		if r, err := agentsvc.Push(ctx, b.agent, agentClient, b.id); err != nil || r.Trusted {
			// No flavors are stored here: trusted would be wrong.
			t.Fatalf("first push: trusted %v, %v", r.Trusted, err)
		}
		b.advance(t, 30)
		good := append([]byte(nil), b.log...)
		last, err := ima.Split(good, 29)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name, fault string
			log         []byte
		}{
			{"last entry removed", attest.FaultIMAReplayMismatch, good[:len(good)-len(last)]},
			{"last entry changed", attest.FaultIMALogInvalid, append(good[:len(good)-1:len(good)-1], good[len(good)-1]^1)},
		} {
			if err := os.WriteFile(b.logPath, tc.log, 0o600); err != nil {
				t.Fatal(err)
			}
			r, err := agentsvc.Push(ctx, b.agent, agentClient, b.id)
			if err != nil {
				t.Fatal(err)
			}
			if rep := mustReport(t, f, r); rep.Trusted || !hasFault(rep, tc.fault, "") {
				t.Errorf("%s: faults %v, want %s", tc.name, faultNames(rep), tc.fault)
			}
		}
		if err := os.WriteFile(b.logPath, good, 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := agentsvc.Push(ctx, b.agent, agentClient, b.id)
		if err != nil {
			t.Fatal(err)
		}
		if rep := mustReport(t, f, r); rep.IMAEntries != 30 || hasFault(rep, attest.FaultIMAReplayMismatch, "") || hasFault(rep, attest.FaultIMALogInvalid, "") {
			t.Errorf("the log restored: %d entries, faults %v", rep.IMAEntries, faultNames(rep))
		}
	})

	t.Run("challenges are bounded", func(t *testing.T) {
		first, err := agentClient.Challenge(ctx, b.id)
		if err != nil {
			t.Fatal(err)
		}
		// A flood of challenges for the host: the store keeps its newest
		// 64 unspent nonces, and the host still gets one.
		var last attest.QuoteRequest
		for range 100 {
			if last, err = agentClient.Challenge(ctx, b.id); err != nil {
				t.Fatalf("challenge: %v", err)
			}
		}
		if n, _ := f.s.PendingNonces(ctx, b.id, time.Now()); n != 64 {
			t.Errorf("%d unspent nonces after the flood, want 64", n)
		}
		ev, err := b.agent.Quote(first)
		if err != nil {
			t.Fatal(err)
		}
		_, err = agentClient.Evidence(ctx, ev)
		if code, fault := statusOf(err); code != http.StatusUnprocessableEntity || fault != attest.FaultQuoteNonce {
			t.Errorf("evidence for a dropped nonce: %v, want 422 %s", err, attest.FaultQuoteNonce)
		}
		if ev, err = b.agent.Quote(last); err != nil {
			t.Fatal(err)
		}
		if _, err := agentClient.Evidence(ctx, ev); err != nil {
			t.Errorf("evidence for the newest nonce: %v", err)
		}
	})

	t.Run("pull and import need a pull-mode host", func(t *testing.T) {
		for _, path := range []string{"/v1/hosts/" + b.id + "/attest", "/v1/flavors/import"} {
			err := f.admin.Do(ctx, "POST", path, api.ImportBody{HostID: b.id}, nil)
			if code, _ := statusOf(err); code != http.StatusBadRequest {
				t.Errorf("POST %s for a push-mode host: %v, want 400", path, err)
			}
		}
		err := f.admin.Do(ctx, "POST", "/v1/hosts/nobody/attest", nil, nil)
		if code, _ := statusOf(err); code != http.StatusNotFound {
			t.Errorf("pull of an unknown host: %v, want 404", err)
		}
	})
}

// pemOf wraps a DER certificate in PEM.
func pemOf(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
