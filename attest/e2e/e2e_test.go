package e2e

import (
	"context"
	"database/sql"
	"encoding/hex"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/agentsvc"
	"tep.dev/tep/attest/api"
	"tep.dev/tep/attest/flavor"
	"tep.dev/tep/attest/report"
	"tep.dev/tep/attest/runtime"
	"tep.dev/tep/attest/store"
)

// imaFlavor is an IMA flavor whose runtime policy allows every file the
// devices' generators measure.
func imaFlavor(devs ...*device) flavor.Flavor {
	p := runtime.Policy{Digests: map[string][]string{}}
	p.Meta.Version = 1
	for _, d := range devs {
		for _, f := range d.gen.Files() {
			p.Digests[f.Path] = append(p.Digests[f.Path], hex.EncodeToString(f.Digest))
		}
	}
	return flavor.Flavor{Meta: flavor.Meta{Part: flavor.IMA, Label: "edge runtime"}, Runtime: &p}
}

// edgeTemplate makes PLATFORM flavors of PCRs 0-7 and OS flavors of PCRs
// 8 and 9, in both banks, from a golden host.
func edgeTemplate() flavor.Template {
	var platform, os flavor.PartTemplate
	for i := range 10 {
		r := flavor.RuleTemplate{PCR: i, Banks: banks, PCRMatches: true}
		if i < 8 {
			platform.Rules = append(platform.Rules, r)
		} else {
			os.Rules = append(os.Rules, r)
		}
	}
	return flavor.Template{ID: "edge", Label: "edge boxes", Parts: map[flavor.Part]flavor.PartTemplate{flavor.Platform: platform, flavor.OS: os}}
}

func mustReport(t *testing.T, f *fleet, r api.Report) report.Report {
	t.Helper()
	rep, err := report.Verify(r.JWS, f.key.Public())
	if err != nil {
		t.Fatalf("report %s: %v", r.ID, err)
	}
	return rep
}

func faultNames(rep report.Report) []string {
	var names []string
	for _, f := range rep.Faults {
		names = append(names, f.Name)
	}
	return names
}

// TestEndToEnd enrols two devices on swtpm (one in pull mode, the golden
// host; one in push mode), imports flavors from the golden host, and
// attests them: trusted, then every attack and bad request in turn, each
// with what the verifier must answer. The steps share the fleet and run
// in order.
func TestEndToEnd(t *testing.T) {
	ctx := context.Background()
	ca := filepath.Join(t.TempDir(), "ca")
	var rec *recorder
	if *transcript != "" {
		rec = &recorder{}
		defer rec.save(t)
	}
	a := newDevice(t, "edge-a", ca, 1, 40)
	b := newDevice(t, "edge-b", ca, 2, 200)
	a.advance(t, 40)
	b.advance(t, 100)
	f := newFleet(t, ca, rec)
	agentClient := f.client(t, "", rec)

	rec.step("An admin stores a flavor template and an IMA flavor")
	var tp api.Policy
	if err := f.admin.Do(ctx, "POST", "/v1/flavor-templates", edgeTemplate(), &tp); err != nil {
		t.Fatal(err)
	}
	if err := f.admin.Do(ctx, "POST", "/v1/flavors", imaFlavor(a, b), &tp); err != nil {
		t.Fatal(err)
	}

	t.Run("auditor cannot change a flavor", func(t *testing.T) {
		err := f.auditor.Do(ctx, "POST", "/v1/flavors", imaFlavor(a), nil)
		if code, _ := statusOf(err); code != http.StatusForbidden {
			t.Errorf("auditor POST /v1/flavors: %v, want 403", err)
		}
		err = f.client(t, "", nil).Do(ctx, "DELETE", "/v1/flavors/"+tp.ID, nil, nil)
		if code, _ := statusOf(err); code != http.StatusUnauthorized {
			t.Errorf("unauthenticated DELETE /v1/flavors: %v, want 401", err)
		}
		if _, err := f.v.Policy(ctx, store.KindFlavor, tp.ID); err != nil {
			t.Errorf("the IMA flavor after the refused requests: %v", err)
		}
	})

	enrolToken := func() string { return f.token(t, store.RoleEnroll) }
	rec.step("Enrolment of the golden host (pull mode) and of a push-mode host")
	pullURL, pullCert := a.pullServer(t, f.certPEM)
	if _, err := agentsvc.Enroll(ctx, a.agent, agentClient, a.id, enrolToken(), pullURL, pullCert); err != nil {
		t.Fatalf("enrolling %s: %v", a.id, err)
	}
	if _, err := agentsvc.Enroll(ctx, b.agent, agentClient, b.id, enrolToken(), "", nil); err != nil {
		t.Fatalf("enrolling %s: %v", b.id, err)
	}

	rec.step("Flavors imported from the golden host")
	var imported []api.Policy
	if err := f.admin.Do(ctx, "POST", "/v1/flavors/import", api.ImportBody{HostID: a.id}, &imported); err != nil {
		t.Fatalf("import: %v", err)
	}
	if len(imported) != 2 {
		t.Fatalf("import made %d flavors, want PLATFORM and OS", len(imported))
	}

	var lastB api.Report
	t.Run("trusted", func(t *testing.T) {
		rec.step("The verifier pulls evidence from the golden host")
		var ra api.Report
		if err := f.admin.Do(ctx, "POST", "/v1/hosts/"+a.id+"/attest", nil, &ra); err != nil {
			t.Fatalf("pull: %v", err)
		}
		if rep := mustReport(t, f, ra); !rep.Trusted || !ra.Trusted {
			t.Errorf("%s: trusted %v, faults %v", a.id, rep.Trusted, faultNames(rep))
		}
		rec.step("A push-mode attestation: challenge, then evidence")
		r, err := agentsvc.Push(ctx, b.agent, agentClient, b.id)
		if err != nil {
			t.Fatalf("push: %v", err)
		}
		rep := mustReport(t, f, r)
		if !rep.Trusted || rep.IMAEntries != 100 {
			t.Errorf("%s: trusted %v, %d IMA entries, faults %v; want trusted, 100", b.id, rep.Trusted, rep.IMAEntries, faultNames(rep))
		}
		b.advance(t, 150)
		rec.step("The next attestation sends only the new IMA entries")
		lastB, err = agentsvc.Push(ctx, b.agent, agentClient, b.id)
		if err != nil {
			t.Fatalf("push: %v", err)
		}
		if rep := mustReport(t, f, lastB); !rep.Trusted || rep.IMAEntries != 150 {
			t.Errorf("incremental: trusted %v, %d IMA entries, faults %v; want trusted, 150", rep.Trusted, rep.IMAEntries, faultNames(rep))
		}
	})

	t.Run("reports", func(t *testing.T) {
		rec.step("An auditor reads the latest reports")
		var latest []api.Report
		if err := f.auditor.Do(ctx, "GET", "/v1/reports/latest", nil, &latest); err != nil {
			t.Fatal(err)
		}
		if len(latest) != 2 || latest[1].ID != lastB.ID {
			t.Errorf("latest = %d reports, want 2 ending with %s", len(latest), lastB.ID)
		}
		var hist []api.Report
		if err := f.auditor.Do(ctx, "GET", "/v1/reports?host="+b.id, nil, &hist); err != nil || len(hist) != 2 {
			t.Errorf("history of %s: %d reports, %v; want 2", b.id, len(hist), err)
		}
	})

	t.Run("flavor group", func(t *testing.T) {
		rec.step("A flavor group that requires a HOST_UNIQUE flavor, for host B only")
		err := f.admin.Do(ctx, "PUT", "/v1/hosts/"+b.id+"/flavor-group", api.FlavorGroupBody{FlavorGroup: "unique"}, nil)
		if code, _ := statusOf(err); code != http.StatusNotFound {
			t.Errorf("a group that does not exist: %v, want 404", err)
		}
		g := flavor.Group{Name: "unique", Policies: []flavor.MatchPolicy{{Part: flavor.HostUnique, Match: flavor.AnyOf, Required: flavor.Require}}}
		if err := f.admin.Do(ctx, "POST", "/v1/flavor-groups", g, nil); err != nil {
			t.Fatal(err)
		}
		if err := f.admin.Do(ctx, "PUT", "/v1/hosts/"+b.id+"/flavor-group", api.FlavorGroupBody{FlavorGroup: "unique"}, nil); err != nil {
			t.Fatal(err)
		}
		r, err := agentsvc.Push(ctx, b.agent, agentClient, b.id)
		if err != nil {
			t.Fatal(err)
		}
		if rep := mustReport(t, f, r); rep.Trusted || !hasFault(rep, attest.FaultFlavorMissing, "") {
			t.Errorf("with a group that requires a HOST_UNIQUE flavor: trusted %v, faults %v", rep.Trusted, faultNames(rep))
		}
		if err := f.admin.Do(ctx, "PUT", "/v1/hosts/"+b.id+"/flavor-group", api.FlavorGroupBody{}, nil); err != nil {
			t.Fatal(err)
		}
		if r, err := agentsvc.Push(ctx, b.agent, agentClient, b.id); err != nil || !r.Trusted {
			t.Errorf("back on the default group: trusted %v, %v", r.Trusted, err)
		}
	})

	t.Run("replayed nonce", func(t *testing.T) {
		req, err := agentClient.Challenge(ctx, b.id)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := b.agent.Quote(req)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := agentClient.Evidence(ctx, ev); err != nil {
			t.Fatalf("first evidence: %v", err)
		}
		rec.step("The same evidence again: its nonce is spent")
		_, err = agentClient.Evidence(ctx, ev)
		if code, fault := statusOf(err); code != http.StatusUnprocessableEntity || fault != attest.FaultQuoteNonce {
			t.Errorf("replay: %v, want 422 %s", err, attest.FaultQuoteNonce)
		}
	})

	t.Run("quote by another TPM's AK", func(t *testing.T) {
		rec.step("Host B's TPM quotes a nonce issued to host A")
		req, err := agentClient.Challenge(ctx, a.id)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := b.agent.Quote(req)
		if err != nil {
			t.Fatal(err)
		}
		ev.HostID = a.id
		_, err = agentClient.Evidence(ctx, ev)
		if code, fault := statusOf(err); code != http.StatusUnprocessableEntity || fault != attest.FaultQuoteSignature {
			t.Errorf("another TPM's quote: %v, want 422 %s", err, attest.FaultQuoteSignature)
		}
	})

	t.Run("bad requests", func(t *testing.T) {
		rec.step("Malformed JSON")
		err := agentClient.Do(ctx, "POST", "/v1/agent/evidence", []byte(`{"host_id": "edge-b", "quote": 12`), nil)
		if code, _ := statusOf(err); code != http.StatusBadRequest {
			t.Errorf("malformed JSON: %v, want 400", err)
		}
		rec.step("Evidence over the 16 MiB bound")
		big := attest.Evidence{HostID: b.id, IMALog: make([]byte, api.DefaultMaxEvidence)}
		err = agentClient.Do(ctx, "POST", "/v1/agent/evidence", big, nil)
		if code, _ := statusOf(err); code != http.StatusRequestEntityTooLarge {
			t.Errorf("oversized log: %v, want 413", err)
		}
	})

	t.Run("enrolment refused", func(t *testing.T) {
		req, err := b.agent.Enroll(b.id, "")
		if err != nil {
			t.Fatal(err)
		}
		rec.step("An enrolment with no token, from an EK not on the allow list")
		_, err = agentClient.Enroll(ctx, api.EnrollBody{EnrollRequest: req})
		if code, _ := statusOf(err); code != http.StatusForbidden {
			t.Errorf("enrolment without a token: %v, want 403", err)
		}
		tok := enrolToken()
		req.Token, req.HostID = tok, "edge-a"
		_, err = agentClient.Enroll(ctx, api.EnrollBody{EnrollRequest: req})
		if code, _ := statusOf(err); code != http.StatusConflict {
			t.Errorf("enrolling B's EK as A: %v, want 409", err)
		}
		other := newDevice(t, "stranger", filepath.Join(t.TempDir(), "other-ca"), 3, 1)
		sreq, err := other.agent.Enroll(other.id, tok)
		if err != nil {
			t.Fatal(err)
		}
		rec.step("An EK certificate from an unknown CA")
		_, err = agentClient.Enroll(ctx, api.EnrollBody{EnrollRequest: sreq})
		if code, fault := statusOf(err); code != http.StatusUnprocessableEntity || fault != attest.FaultEKCertUntrusted {
			t.Errorf("unknown EK CA: %v, want 422 %s", err, attest.FaultEKCertUntrusted)
		}
		// B made a new AK above, and its enrolment was refused.
		rec.step("Evidence signed by an AK the verifier never saw")
		_, err = agentsvc.Push(ctx, b.agent, agentClient, b.id)
		if code, fault := statusOf(err); code != http.StatusUnprocessableEntity || fault != attest.FaultQuoteSignature {
			t.Errorf("AK swapped without activation: %v, want 422 %s", err, attest.FaultQuoteSignature)
		}
		// B enrols a new AK and is challenged, but never activates it.
		pending, err := b.agent.Enroll(b.id, enrolToken())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := agentClient.Enroll(ctx, api.EnrollBody{EnrollRequest: pending}); err != nil {
			t.Fatal(err)
		}
		rec.step("Evidence signed by an AK that was enrolled and challenged, but not activated")
		_, err = agentsvc.Push(ctx, b.agent, agentClient, b.id)
		if code, fault := statusOf(err); code != http.StatusUnprocessableEntity || fault != attest.FaultAKNotActivated {
			t.Errorf("AK enrolled, not activated: %v, want 422 %s", err, attest.FaultAKNotActivated)
		}
		rec.step("An admin puts B's EK on the allow list; B enrols with no token")
		if err := f.admin.Do(ctx, "POST", "/v1/ek-allow", api.EKAllowBody{EKPublic: req.EKPublic}, nil); err != nil {
			t.Fatal(err)
		}
		again, err := b.agent.Enroll(b.id, "")
		if err != nil {
			t.Fatal(err)
		}
		ch, err := agentClient.Enroll(ctx, api.EnrollBody{EnrollRequest: again})
		if err != nil {
			t.Fatalf("enrolling B from the allow list: %v", err)
		}
		var e api.Enrollment
		if err := f.auditor.Do(ctx, "GET", "/v1/enrollments/"+ch.EnrollmentID, nil, &e); err != nil || e.Status != store.EnrollPending || e.HostID != b.id {
			t.Errorf("enrolment before activation: %+v, %v", e, err)
		}
		act, err := b.agent.Activate(ch)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := agentClient.Activate(ctx, act); err != nil {
			t.Fatal(err)
		}
		if err := f.auditor.Do(ctx, "GET", "/v1/enrollments/"+ch.EnrollmentID, nil, &e); err != nil || e.Status != store.EnrollActivated {
			t.Errorf("enrolment after activation: %+v, %v", e, err)
		}
		if r, err := agentsvc.Push(ctx, b.agent, agentClient, b.id); err != nil || !r.Trusted {
			t.Errorf("after activating the new AK: trusted %v, %v", r.Trusted, err)
		}
	})

	t.Run("flood of bad requests", func(t *testing.T) { flood(t, f, a) })

	t.Run("unknown executable", func(t *testing.T) {
		const path = "/usr/local/bin/dropper"
		b.foreign(t, path)
		rec.step("An executable not in the runtime policy")
		r, err := agentsvc.Push(ctx, b.agent, agentClient, b.id)
		if err != nil {
			t.Fatal(err)
		}
		rep := mustReport(t, f, r)
		if rep.Trusted || !hasFault(rep, attest.FaultIMAFileUnknown, path) {
			t.Errorf("unknown executable: trusted %v, faults %+v; want %s naming %s", rep.Trusted, rep.Faults, attest.FaultIMAFileUnknown, path)
		}
		r, err = agentsvc.Push(ctx, b.agent, agentClient, b.id)
		if err != nil {
			t.Fatal(err)
		}
		if rep := mustReport(t, f, r); rep.Trusted || !hasFault(rep, attest.FaultIMAFileUnknown, path) {
			t.Errorf("the report after: trusted %v, faults %v; the file still ran in this boot", rep.Trusted, faultNames(rep))
		}
	})

	t.Run("changed flavor row", func(t *testing.T) {
		db, err := sql.Open("sqlite3", f.dbPath)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		res, err := db.Exec(`UPDATE policies SET body = REPLACE(body, '"pcr_matches":true', '"pcr_matches":false') WHERE kind = 'flavor' AND name != 'edge runtime'`)
		if n, _ := res.RowsAffected(); err != nil || n == 0 {
			t.Fatalf("tampering: %d rows, %v", n, err)
		}
		rec.step("A stored flavor row changed behind the verifier's back")
		var r api.Report
		if err := f.admin.Do(ctx, "POST", "/v1/hosts/"+a.id+"/attest", nil, &r); err != nil {
			t.Fatal(err)
		}
		if rep := mustReport(t, f, r); rep.Trusted || !hasFault(rep, attest.FaultFlavorSignatureNotTrusted, "") {
			t.Errorf("after a flavor row changed: trusted %v, faults %v", rep.Trusted, faultNames(rep))
		}
		var listed []api.Policy
		if err := f.auditor.Do(ctx, "GET", "/v1/flavors", nil, &listed); err != nil || len(listed) != 1 || listed[0].Name != "edge runtime" {
			t.Errorf("GET /v1/flavors after the change: %d flavors, %v; want only the untouched IMA flavor", len(listed), err)
		}
		err = f.auditor.Do(ctx, "GET", "/v1/flavors/"+imported[0].ID, nil, nil)
		if code, _ := statusOf(err); code != http.StatusInternalServerError {
			t.Errorf("GET of a changed flavor: %v, want 500", err)
		}
	})
}

func hasFault(rep report.Report, name, file string) bool {
	for _, f := range rep.Faults {
		if f.Name == name && (file == "" || f.File == file) {
			return true
		}
	}
	return false
}

// flood sends bad requests from several goroutines while the verifier
// keeps pulling trusted reports from d.
func flood(t *testing.T, f *fleet, d *device) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var sent, refused atomic.Int64
	bad := []struct{ path, body string }{
		{"/v1/agent/evidence", `{"host_id":`},
		{"/v1/agent/evidence", `{"host_id":"edge-a","quote":"AAAA","nonce":"AAAA"}`},
		{"/v1/agent/enroll", `{"host_id":"x","ek_cert":"AA==","ek_public":"AA==","ak_public":"AAAA"}`},
		{"/v1/agent/challenge", `{"host_id":"nobody"}`},
		{"/v1/agent/evidence", `{"host_id":"edge-a","ima_log":"` + strings.Repeat("QUFB", 1<<20) + `"}`},
	}
	for i := range 4 {
		c := f.client(t, "", nil)
		wg.Go(func() {
			for j := i; ctx.Err() == nil; j++ {
				b := bad[j%len(bad)]
				err := c.Do(ctx, "POST", b.path, []byte(b.body), nil)
				sent.Add(1)
				if code, _ := statusOf(err); code >= 400 && code < 500 {
					refused.Add(1)
				} else if ctx.Err() == nil {
					t.Errorf("bad request to %s: %v, want a 4xx", b.path, err)
				}
			}
		})
	}
	for i := range 3 {
		var r api.Report
		if err := f.admin.Do(context.Background(), "POST", "/v1/hosts/"+d.id+"/attest", nil, &r); err != nil || !r.Trusted {
			t.Errorf("pull %d during the flood: trusted %v, %v", i, r.Trusted, err)
		}
	}
	time.Sleep(100 * time.Millisecond)
	cancel()
	wg.Wait()
	t.Logf("%d bad requests sent during the flood, %d refused with a 4xx", sent.Load(), refused.Load())
	if refused.Load() == 0 {
		t.Error("no bad request was refused")
	}
}
