package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"tep.dev/tep/attest/loadgen"
	"tep.dev/tep/attest/simdevice"
)

// TestLoadgen runs tep-verifier loadgen with a few devices against a
// real tep-verifier serve that trusts the EK CA loadgen --init-ca made:
// every device enrols and gets reports, none fails. A verifier that does
// not trust the CA refuses the first enrolment, and loadgen says so and
// exits 1.
func TestLoadgen(t *testing.T) {
	dir := t.TempDir()
	ca, strangerDir := filepath.Join(dir, "ekca"), t.TempDir()
	stranger, err := simdevice.NewCA(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := stranger.Write(strangerDir); err != nil {
		t.Fatal(err)
	}
	v := launchVerifier(t, dir, []string{filepath.Join(strangerDir, simdevice.CACertFile)}, nil)
	if out, err := exec.Command(v.bin, "loadgen", "--init-ca", ca).CombinedOutput(); err != nil {
		t.Fatalf("loadgen --init-ca: %v\n%s", err, out)
	}
	certFile := filepath.Join(v.state, "tls-cert.pem")
	args := func(url string) []string {
		return []string{"loadgen", "--devices", "4", "--verifier", url, "--ca", certFile, "--token", v.admin,
			"--ek-ca-dir", ca, "--interval", "1s", "--duration", "2500ms", "--ima-entries", "300", "--ima-step", "10", "--json"}
	}

	// The first verifier trusts another EK CA: enrolment is refused.
	var stderr bytes.Buffer
	cmd := exec.Command(v.bin, args(v.url)...)
	cmd.Stderr = &stderr
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "EKCertificateUntrusted") {
		t.Errorf("loadgen against a verifier trusting another EK CA: %v, stderr %q; want exit status 1 and EKCertificateUntrusted", err, stderr.String())
	}

	v2 := launchVerifier(t, t.TempDir(), []string{filepath.Join(ca, simdevice.CACertFile)}, nil)
	certFile = filepath.Join(v2.state, "tls-cert.pem")
	v.admin = v2.admin
	out, err := exec.Command(v2.bin, args(v2.url)...).Output()
	if err != nil {
		t.Fatalf("loadgen: %v\n%s", err, out)
	}
	var res loadgen.Result
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("loadgen --json: %v\n%s", err, out)
	}
	if res.Enrolled != 4 || res.Reported != 4 || res.Failed != 0 || res.Attested < 4 || len(res.Errors) != 0 {
		t.Errorf("loadgen = %+v; want 4 devices enrolled and reported, at least 4 attestations, none failed", res)
	}
	if res.Max < res.P99 || res.P99 < res.P50 || res.P50 <= 0 {
		t.Errorf("latencies p50 %v p99 %v max %v out of order", res.P50, res.P99, res.Max)
	}

	// One-time enrolment tokens instead of the admin token: they work
	// once, and a second run with the same ones is refused.
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte(v2.enrolToken(t)+"\n"+v2.enrolToken(t)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tokenArgs := []string{"loadgen", "--devices", "2", "--host-prefix", "tok-", "--verifier", v2.url, "--ca", certFile,
		"--enroll-tokens", tokens, "--ek-ca-dir", ca, "--interval", "1s", "--duration", "1500ms", "--ima-entries", "100", "--json"}
	out, err = exec.Command(v2.bin, tokenArgs...).Output()
	res = loadgen.Result{}
	if err != nil || json.Unmarshal(out, &res) != nil || res.Enrolled != 2 || res.Reported != 2 || res.Failed != 0 {
		t.Errorf("loadgen --enroll-tokens = %v, %s; want 2 devices enrolled and reported", err, out)
	}
	stderr.Reset()
	cmd = exec.Command(v2.bin, append(tokenArgs[:len(tokenArgs)-1], "--host-prefix", "again-")...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil || !strings.Contains(stderr.String(), "used") {
		t.Errorf("loadgen with spent enrolment tokens: %v, stderr %q; want a refusal", err, stderr.String())
	}

	// A command line missing what loadgen needs is a usage error.
	cmd = exec.Command(v2.bin, "loadgen", "--devices", "2", "--verifier", v2.url)
	if err := cmd.Run(); err == nil || cmd.ProcessState.ExitCode() != 2 {
		t.Errorf("loadgen without --ca and tokens: %v, want exit status 2", err)
	}
}
