package e2e

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tep.dev/tep/attest/api"
	"tep.dev/tep/attest/store"
)

var cliTranscript = flag.String("cli-transcript", "", "write TestCommands' command lines and their output to this file")

// TestCommands runs the built commands as an operator would: tep-verifier
// serve, token create, hosts and reports; tep-attest enroll, run --once
// (push mode) and serve (pull mode), on swtpm.
func TestCommands(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca")
	p := startSWTPM(t, filepath.Join(dir, "tpm"), ca)
	v := startVerifier(t, dir, ca)
	agentBin := filepath.Join(dir, "tep-attest")
	if out, err := exec.Command("go", "build", "-o", agentBin, "tep.dev/tep/cmd/tep-attest").CombinedOutput(); err != nil {
		t.Fatalf("building tep-attest: %v\n%s", err, out)
	}
	caFile := filepath.Join(v.state, "tls-cert.pem")
	var session strings.Builder
	defer func() {
		if *cliTranscript != "" {
			s := strings.NewReplacer(dir, "DIR", v.url, "https://verifier:8443", p.Spec, "/dev/tpmrm0").Replace(session.String())
			if err := os.WriteFile(*cliTranscript, []byte(s), 0o644); err != nil {
				t.Error(err)
			}
		}
	}()
	run := func(bin string, args ...string) string {
		t.Helper()
		defer func() { session.WriteString("\n") }()
		fmt.Fprintf(&session, "$ %s %s\n", filepath.Base(bin), strings.Join(args, " "))
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "TEP_VERIFIER_URL="+v.url, "TEP_VERIFIER_CA="+caFile, "TEP_VERIFIER_TOKEN="+v.admin)
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, stderr)
		}
		session.Write(out)
		return string(out)
	}
	agentState := filepath.Join(dir, "agent")
	ima := filepath.Join(dir, "no-ima")
	out := run(agentBin, "enroll", "--state", agentState, "--tpm", p.Spec, "--verifier", v.url, "--ca", caFile,
		"--token", v.enrolToken(t), "--host-id", "box-1", "--ima-log", ima, "--boot-log", ima)
	if !strings.Contains(out, "enrolled box-1") {
		t.Errorf("tep-attest enroll printed %q", out)
	}
	var rep api.Report
	if err := json.Unmarshal([]byte(run(agentBin, "run", "--state", agentState, "--tpm", p.Spec, "--once", "--json")), &rep); err != nil || rep.ID == "" {
		t.Fatalf("tep-attest run --once: %+v, %v", rep, err)
	}
	// No flavors yet: the report says so.
	if rep.Trusted || !strings.Contains(string(rep.Report), "FlavorMissing") {
		t.Errorf("report without flavors: trusted %v, %s", rep.Trusted, rep.Report)
	}
	if out := run(v.bin, "hosts"); !strings.Contains(out, "box-1") || !strings.Contains(out, "push") {
		t.Errorf("tep-verifier hosts = %q", out)
	}
	if out := run(v.bin, "reports", "--host", "box-1"); !strings.Contains(out, rep.ID) || !strings.Contains(out, "FlavorMissing") {
		t.Errorf("tep-verifier reports = %q", out)
	}

	// Pull mode: the same TPM enrols again as another host? No: one EK
	// is one host. It re-enrols as box-1 with a pull URL.
	port := freePort(t)
	pullURL := "https://127.0.0.1:" + port
	run(agentBin, "enroll", "--state", agentState, "--tpm", p.Spec, "--verifier", v.url, "--ca", caFile,
		"--token", v.enrolToken(t), "--host-id", "box-1", "--pull-url", pullURL, "--ima-log", ima, "--boot-log", ima)
	ctx, cancel := context.WithCancel(context.Background())
	serve := exec.CommandContext(ctx, agentBin, "serve", "--state", agentState, "--tpm", p.Spec, "--listen", "127.0.0.1:"+port)
	serve.Stderr = os.Stderr
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); serve.Wait() }()
	admin := v.client(t, v.admin)
	var pulled api.Report
	for i := 0; ; i++ {
		err := admin.Do(context.Background(), "POST", "/v1/hosts/box-1/attest", nil, &pulled)
		if err == nil {
			break
		}
		if i == 50 {
			t.Fatalf("pulling from tep-attest serve: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out := run(v.bin, "hosts", "--json"); !strings.Contains(out, pullURL) {
		t.Errorf("hosts after pull-mode enrolment = %q", out)
	}
	if out := run(v.bin, "reports", "--latest"); !strings.Contains(out, pulled.ID) {
		t.Errorf("reports --latest = %q, want %s", out, pulled.ID)
	}
	// An auditor's token cannot import flavors.
	aud := strings.TrimSpace(run(v.bin, "token", "create", "--state", v.state, "--role", store.RoleAuditor))
	tok := aud[strings.LastIndex(aud, " ")+1:]
	cmd := exec.Command(v.bin, "flavors", "import", "--from-host", "box-1", "--verifier", v.url, "--ca", caFile, "--token", tok)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "403") {
		t.Errorf("auditor flavors import: %v %s, want a 403", err, out)
	}
	// The admin's, with the example template, can: serve's appraiser
	// imports through the metrics' wrapper.
	run(v.bin, "templates", "add", filepath.Join("..", "..", "dist", "flavor-template-edge.json"))
	if out := run(v.bin, "flavors", "import", "--from-host", "box-1", "--json"); strings.Count(out, `"kind": "flavor"`) != 2 {
		t.Errorf("flavors import --from-host box-1 = %s, want a PLATFORM and an OS flavor", out)
	}
}
