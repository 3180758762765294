package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"tep.dev/tep/attest/api"
	"tep.dev/tep/attest/natsquote"
	"tep.dev/tep/attest/store"
	"tep.dev/tep/internal/swtpm"
)

// TestNATSCommands runs the built commands in NATS mode: tep-verifier
// serve --nats (a password, the server's CA) and tep-attest enroll
// --nats, then run --nats (an NKey) on swtpm; the verifier's schedule
// reaches the agent and stores its reports.
func TestNATSCommands(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca")
	p := startSWTPM(t, filepath.Join(dir, "tpm"), ca)
	bus := newNATSBus(t)
	verifierBin, agentBin := filepath.Join(dir, "tep-verifier"), filepath.Join(dir, "tep-attest")
	for bin, pkg := range map[string]string{verifierBin: "tep.dev/tep/cmd/tep-verifier", agentBin: "tep.dev/tep/cmd/tep-attest"} {
		if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
			t.Fatalf("building %s: %v\n%s", pkg, err, out)
		}
	}
	state := filepath.Join(dir, "verifier")
	token := func(role string) string {
		out, err := exec.Command(verifierBin, "token", "create", "--state", state, "--role", role, "--json").Output()
		var tok struct{ Token string }
		if err != nil || json.Unmarshal(out, &tok) != nil || tok.Token == "" {
			t.Fatalf("token create --role %s: %v %s", role, err, out)
		}
		return tok.Token
	}
	adminToken, enrolToken := token(store.RoleAdmin), token(store.RoleEnroll)

	port := freePort(t)
	url := "https://127.0.0.1:" + port
	serve := exec.Command(verifierBin, "serve", "--state", state, "--listen", "127.0.0.1:"+port, "--san", "127.0.0.1",
		"--ek-ca", swtpm.RootCert(ca), "--ek-ca", swtpm.IssuerCert(ca), "--pull-interval", "300ms", "--pull-timeout", "5s",
		"--log-level", "warn", "--nats", bus.srv.URL, "--nats-ca", bus.caFile, "--nats-user", "verifier")
	serve.Env = append(os.Environ(), "TEP_NATS_PASSWORD=v3rifier")
	serve.Stderr = os.Stderr
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { serve.Process.Kill(); serve.Wait() }()
	caFile := filepath.Join(state, "tls-cert.pem")
	var admin *api.Client
	waitUntil(t, "tep-verifier serve", func() bool {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return false
		}
		admin, err = api.NewClient(url, pem, nil)
		if err != nil {
			t.Fatal(err)
		}
		admin.Token = adminToken
		return admin.Do(context.Background(), "GET", "/v1/health", nil, nil) == nil
	})

	agentState, none := filepath.Join(dir, "agent"), filepath.Join(dir, "none")
	agent := func(args ...string) *exec.Cmd {
		return exec.Command(agentBin, append(args, "--state", agentState, "--tpm", p.Spec)...)
	}
	if out, err := agent("enroll", "--verifier", url, "--ca", caFile, "--token", enrolToken, "--host-id", "box-n",
		"--nats", bus.srv.URL, "--ima-log", none, "--boot-log", none).CombinedOutput(); err != nil || !strings.Contains(string(out), "enrolled box-n") {
		t.Fatalf("tep-attest enroll --nats: %v\n%s", err, out)
	}
	var h api.Host
	if err := admin.Do(context.Background(), "GET", "/v1/hosts/box-n", nil, &h); err != nil || h.PullURL != natsquote.URL("box-n") {
		t.Errorf("host after enroll --nats: %+v, %v; want pull URL %s", h, err, natsquote.URL("box-n"))
	}
	// The wrong host id is refused before anything runs.
	wrong := agent("run", "--nats", bus.srv.URL, "--host-id", "box-m")
	if out, err := wrong.CombinedOutput(); exitCode(err) != 2 || !strings.Contains(string(out), "box-n") {
		t.Errorf("run --host-id box-m: %v\n%s; want exit status 2", err, out)
	}
	run := agent("run", "--nats", bus.srv.URL, "--nats-ca", bus.caFile, "--nats-nkey", bus.agentSeed, "--host-id", "box-n")
	run.Stderr = os.Stderr
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { run.Process.Kill(); run.Wait() }()
	var rs []api.Report
	waitUntil(t, "a report of box-n by the verifier's schedule over NATS", func() bool {
		err := admin.Do(context.Background(), "GET", "/v1/reports?host=box-n", nil, &rs)
		return err == nil && len(rs) > 0
	})
	// No flavors are stored: the report says so, and it was made.
	if rs[0].Trusted || !strings.Contains(string(rs[0].Report), "FlavorMissing") {
		t.Errorf("report without flavors: trusted %v, %s", rs[0].Trusted, rs[0].Report)
	}
	if out, err := exec.Command(verifierBin, "hosts", "--verifier", url, "--ca", caFile, "--token", adminToken).Output(); err != nil || !strings.Contains(string(out), "nats") {
		t.Errorf("tep-verifier hosts: %v\n%s; want box-n in NATS mode", err, out)
	}
	if err := run.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := run.Wait(); err != nil {
		t.Errorf("tep-attest run --nats after SIGINT: %v, want exit 0", err)
	}
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return 0
}
