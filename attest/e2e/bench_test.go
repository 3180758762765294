package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/agentsvc"
	"tep.dev/tep/attest/api"
	"tep.dev/tep/attest/appraise"
	"tep.dev/tep/attest/credential"
	"tep.dev/tep/attest/ima"
	"tep.dev/tep/attest/store"
	"tep.dev/tep/attest/verifier"
	"tep.dev/tep/internal/swtpm"
)

// benchFirst and benchMore are the sizes: a first report of
// 5,000 IMA entries, then reports of 50 new ones.
const (
	benchFirst = 5000
	benchMore  = 50
)

// BenchmarkAppraise measures the verifier's CPU per attestation, one
// core: decoding the evidence's JSON and every check (quote, IMA replay,
// runtime policy of every new entry, flavors), then signing the report.
// "first" replays 5,000 entries from nothing; "incremental" 50 new
// entries on the state the first left, as an agent that sends only the
// entries from QuoteRequest.IMAFrom does.
func BenchmarkAppraise(b *testing.B) {
	ctx := context.Background()
	ca := filepath.Join(b.TempDir(), "ca")
	d := newDevice(b, "bench", ca, 7, benchFirst+benchMore)
	d.advance(b, benchFirst)
	s, err := store.OpenSQLite(filepath.Join(b.TempDir(), "v.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ap := appraise.New(appraise.Config{Store: s, Key: key})
	v := verifier.New(verifier.Config{Store: s, EK: ekChecker{certPool(b, swtpm.RootCert(ca)), certPool(b, swtpm.IssuerCert(ca))},
		Credential: credential.Make, Appraiser: ap, Policies: ap})
	tok, _, _ := v.CreateToken(ctx, store.RoleEnroll, 0)
	req, err := d.agent.Enroll(d.id, tok)
	if err != nil {
		b.Fatal(err)
	}
	ch, err := v.Enroll(ctx, req, verifier.Pull{})
	if err != nil {
		b.Fatal(err)
	}
	act, _ := d.agent.Activate(ch)
	h, err := v.Activate(ctx, act)
	if err != nil {
		b.Fatal(err)
	}
	flav, _ := json.Marshal(imaFlavor(d))
	if _, err := v.PutPolicy(ctx, store.KindFlavor, flav); err != nil {
		b.Fatal(err)
	}
	quote := func(from int) ([]byte, []byte) {
		nonce := []byte(fmt.Sprintf("bench nonce %d", from))
		ev, err := d.agent.Quote(attest.QuoteRequest{Nonce: nonce, PCRs: verifier.DefaultPCRs, Banks: banks})
		if err != nil {
			b.Fatal(err)
		}
		if ev.IMALog, err = ima.Split(ev.IMALog, from); err != nil {
			b.Fatal(err)
		}
		ev.IMAFrom = from
		body, _ := json.Marshal(ev)
		return body, nonce
	}
	appraiseBody := func(body, nonce []byte, st verifier.State) verifier.Outcome {
		var ev attest.Evidence
		if err := json.Unmarshal(body, &ev); err != nil {
			b.Fatal(err)
		}
		out, err := ap.Appraise(ctx, verifier.Appraisal{Host: h, Evidence: ev, Nonce: nonce, PCRs: verifier.DefaultPCRs, Banks: banks, State: st})
		if err != nil || out.Reject != nil {
			b.Fatalf("Appraise: %v %+v", err, out.Reject)
		}
		return out
	}
	first, n1 := quote(0)
	out := appraiseBody(first, n1, verifier.State{})
	if out.State.IMAEntries != benchFirst {
		b.Fatalf("first report accepted %d IMA entries, want %d", out.State.IMAEntries, benchFirst)
	}
	d.advance(b, benchFirst+benchMore)
	more, n2 := quote(benchFirst)
	b.Run("first-5000", func(b *testing.B) {
		b.SetBytes(int64(len(first)))
		cpu0 := processCPU(b)
		for b.Loop() {
			appraiseBody(first, n1, verifier.State{})
		}
		reportCPU(b, cpu0)
	})
	b.Run("incremental-50", func(b *testing.B) {
		b.SetBytes(int64(len(more)))
		cpu0 := processCPU(b)
		for b.Loop() {
			if o := appraiseBody(more, n2, out.State); o.State.IMAEntries != benchFirst+benchMore {
				b.Fatalf("incremental report: %d IMA entries", o.State.IMAEntries)
			}
		}
		reportCPU(b, cpu0)
	})
}

// processCPU is this process's user and system time so far: on a
// machine shared with other work, CPU time per operation says more
// than ns/op, which counts the waits for a core.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per operation since cpu0 (garbage
// collection included).
func reportCPU(b *testing.B, cpu0 time.Duration) {
	b.ReportMetric(float64(processCPU(b)-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// BenchmarkAttestHTTP measures attestations per second with simulated
// agents pushing to tep-verifier serve, a separate process, over HTTPS:
// each agent is an swtpm with an agent on it whose IMA log starts at
// 5,000 entries and grows by 50 before each attestation (up to 6,500);
// the agent sends only the new entries. TEP_BENCH_AGENTS sets their number
// (default 4). Each agent has its own client, as each device runs its own
// agent, and keeps its connection (HTTP keep-alive); with
// TEP_BENCH_FRESH_TLS=1 it drops it before each attestation, as a
// device attesting once a minute finds it closed, so every attestation
// pays a TLS handshake. It reports the rate and the verifier process's
// CPU per attestation (from /proc); the agents' swtpm and this process
// use the same two cores.
func BenchmarkAttestHTTP(b *testing.B) {
	agents, _ := strconv.Atoi(os.Getenv("TEP_BENCH_AGENTS"))
	if agents <= 0 {
		agents = 4
	}
	ctx := context.Background()
	dir := b.TempDir()
	ca := filepath.Join(dir, "ca")
	devs := make([]*device, agents)
	for i := range devs {
		// One seed: a fleet of identical devices, whose runtime policy
		// (one flavor, under the API's 1 MiB bound) allows every file.
		devs[i] = newDevice(b, fmt.Sprintf("sim-%02d", i), ca, 100, benchFirst+benchMore*30)
		devs[i].advance(b, benchFirst)
	}
	vp := startVerifier(b, dir, ca)
	admin := vp.client(b, vp.admin)
	clients := make([]*api.Client, agents)
	for i := range clients {
		clients[i] = vp.client(b, "")
	}
	fresh := os.Getenv("TEP_BENCH_FRESH_TLS") == "1"
	flav, _ := json.Marshal(imaFlavor(devs[0]))
	if err := admin.Do(ctx, "POST", "/v1/flavors", flav, nil); err != nil {
		b.Fatal(err)
	}
	for i, d := range devs {
		if _, err := agentsvc.Enroll(ctx, d.agent, clients[i], d.id, vp.enrolToken(b), "", nil); err != nil {
			b.Fatal(err)
		}
	}
	// The first report of each agent (5,000 entries) is not timed.
	for i, d := range devs {
		if err := simulatedPush(ctx, b, d, clients[i]); err != nil {
			b.Fatal(err)
		}
	}
	// One worker per agent: an agent attests once at a time (two
	// appraisals of one host at once are refused, the second with 409).
	jobs := make([]chan struct{}, agents)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var fails int
	for i, d := range devs {
		jobs[i] = make(chan struct{})
		wg.Go(func() {
			for range jobs[i] {
				if fresh {
					clients[i].HTTP.CloseIdleConnections()
				}
				if err := simulatedPush(ctx, b, d, clients[i]); err != nil {
					mu.Lock()
					fails++
					mu.Unlock()
					b.Log(err)
				}
			}
		})
	}
	cpu0, start, n := vp.cpu(b), time.Now(), 0
	for b.Loop() {
		jobs[n%agents] <- struct{}{}
		n++
	}
	for i := range jobs {
		close(jobs[i])
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), vp.cpu(b)-cpu0
	b.ReportMetric(float64(n)/elapsed.Seconds(), "attest/s")
	b.ReportMetric(cpu.Seconds()*1000/float64(n), "verifier-cpu-ms/attest")
	if fails > 0 {
		b.Errorf("%d attestations failed", fails)
	}
}

// simulatedPush grows d's IMA log by 50 entries and attests once; the
// agent sends only the entries the verifier asks for.
func simulatedPush(ctx context.Context, b *testing.B, d *device, c *api.Client) error {
	if d.entries >= benchFirst && d.entries+benchMore <= d.gen.Len() {
		d.advance(b, d.entries+benchMore)
	}
	req, err := c.Challenge(ctx, d.id)
	if err != nil {
		return err
	}
	ev, err := d.agent.Quote(req)
	if err != nil {
		return err
	}
	_, err = c.Evidence(ctx, ev)
	return err
}

// verifierProc is tep-verifier serve running as a child process.
type verifierProc struct {
	cmd            *exec.Cmd
	bin, state     string
	url            string
	certPEM        []byte
	admin          string
	enrolTokenFunc func(testing.TB) string
}

func (v *verifierProc) enrolToken(tb testing.TB) string { return v.enrolTokenFunc(tb) }

// startVerifier builds tep-verifier and starts serve on a free port,
// trusting the swtpm CA in ca.
func startVerifier(tb testing.TB, dir, ca string) *verifierProc {
	tb.Helper()
	return launchVerifier(tb, dir, []string{swtpm.RootCert(ca), swtpm.IssuerCert(ca)}, nil)
}

func (v *verifierProc) client(tb testing.TB, token string) *api.Client {
	c, err := api.NewClient(v.url, v.certPEM, nil)
	if err != nil {
		tb.Fatal(err)
	}
	c.Token = token
	return c
}

// cpu is the verifier process's user and system time so far.
func (v *verifierProc) cpu(tb testing.TB) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", v.cmd.Process.Pid))
	if err != nil {
		tb.Fatal(err)
	}
	// Fields after the command's closing parenthesis; utime and stime
	// are fields 14 and 15 of stat(5), in clock ticks (USER_HZ, 100).
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}
