package e2e

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/agentsvc"
	"tep.dev/tep/attest/api"
	"tep.dev/tep/attest/report"
	"tep.dev/tep/attest/simdevice"
	"tep.dev/tep/attest/verifier"
	"tep.dev/tep/internal/postgres"
)

// Schedule of TestReplicas: every host once an interval; a pull lasts
// at most pullTimeout, a claim verifier.Lease(pullTimeout); the agents
// take agentDelay to answer, so that a replica killed at any moment
// likely holds claims; each replica pulls two at a time, so that they
// share the hosts.
const (
	replicaInterval = 4 * time.Second
	replicaTimeout  = time.Second
	agentDelay      = 200 * time.Millisecond
	replicaHosts    = 8
)

// simAgent is a simulated device as the pull-mode agent's TPM side.
type simAgent struct{ d *simdevice.Device }

func (a simAgent) Enroll(_, token string) (attest.EnrollRequest, error) {
	return a.d.Enroll(token), nil
}
func (a simAgent) Activate(c attest.Challenge) (attest.Activation, error) {
	return a.d.Activate(c)
}
func (a simAgent) Quote(req attest.QuoteRequest) (attest.Evidence, error) {
	time.Sleep(agentDelay)
	return a.d.Evidence(req)
}

// replica is one tep-verifier serve process.
type replica struct {
	name, url, logPath string
	cmd                *exec.Cmd
}

// TestReplicas runs three tep-verifier serve processes on one
// PostgreSQL with simulated pull-mode agents; kills one with SIGKILL
// while it holds claims, then restarts PostgreSQL (a fast shutdown,
// then SIGKILL as a crash) under the other two, and checks that no
// report was lost or made twice, that the work was shared, that the
// dead replica's hosts were taken over, and that every host was
// attested within two intervals while PostgreSQL ran.
func TestReplicas(t *testing.T) {
	// A dead replica's host waits out the lease on top of its interval.
	if lease := verifier.Lease(replicaTimeout); lease+agentDelay >= replicaInterval {
		t.Fatalf("lease %v: no host could be attested within two intervals of %v", lease, replicaInterval)
	}
	rg := newReplicaRig(t, 3)
	pg, reps := rg.pg, rg.reps
	start := time.Now()
	time.Sleep(2 * replicaInterval)

	// Kill r1 while it holds claims: mid-attestation.
	held := waitClaims(t, pg.ConnString, "r1")
	reps[1].cmd.Process.Signal(syscall.SIGKILL)
	reps[1].cmd.Wait()
	killed := time.Now()
	t.Logf("killed r1 holding %v", held)
	time.Sleep(3 * replicaInterval)
	steady := time.Now()

	// PostgreSQL restarted, then crashed and restarted.
	offsets := map[string]int{}
	for _, r := range []*replica{reps[0], reps[2]} {
		offsets[r.name] = len(reportLines(t, r.logPath))
	}
	if err := pg.Restart(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(replicaInterval)
	if err := pg.Kill(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(replicaTimeout)
	if err := pg.Restart(); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	time.Sleep(3 * replicaInterval)
	// Each live replica is stopped gracefully while it holds claims.
	for _, r := range []*replica{reps[0], reps[2]} {
		waitClaims(t, pg.ConnString, r.name)
		r.cmd.Process.Signal(syscall.SIGTERM)
		if err := r.cmd.Wait(); err != nil {
			t.Errorf("%s after SIGTERM: %v", r.name, err)
		}
		// A replica stopped gracefully leaves no claim to wait out.
		if held := claimsOf(t, pg.ConnString, r.name); len(held) != 0 {
			t.Errorf("%s holds %v after SIGTERM, want its claims released", r.name, held)
		}
	}
	end := time.Now()

	reports := checkReports(t, rg, offsets, 2, start, steady, end)
	for host, ts := range byHost(reports) {
		if slices.Contains(held, host) && !ts[len(ts)-1].After(killed) {
			t.Errorf("%s: r1 was killed holding it and no replica attested it since", host)
		}
		if !ts[len(ts)-1].After(restarted) {
			t.Errorf("%s: not attested after PostgreSQL came back", host)
		}
	}
}

// checkReports reads the database's reports and checks them: each
// verifies with the state directory's one signing key; the replicas'
// logs and the database agree (checkReplicaReports, at most maxUnlogged
// stored by no replica's log line); every host has reports, none two
// within an interval, none more than two intervals after the last
// before steadyUntil, the last within two intervals of end.
func checkReports(t *testing.T, rg *replicaRig, offsets map[string]int, maxUnlogged int, start, steadyUntil, end time.Time) []dbReport {
	t.Helper()
	reports := dbReports(t, rg.pg.ConnString)
	pubPEM, err := os.ReadFile(filepath.Join(rg.state, "signing-pub.pem"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(pubPEM)
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reports {
		if _, err := report.Verify(r.jws, pub); err != nil {
			t.Errorf("report %s: %v", r.id, err)
		}
	}
	checkReplicaReports(t, rg.reps, reports, offsets, maxUnlogged)
	perHost := byHost(reports)
	if len(perHost) != replicaHosts {
		t.Errorf("%d hosts have reports, want %d", len(perHost), replicaHosts)
	}
	// Every host attested within two intervals is the target, a
	// figure of the machine's speed: it is logged, not asserted.
	maxGap, late := time.Duration(0), 0
	for host, ts := range perHost {
		prev := start
		for _, at := range ts {
			gap := at.Sub(prev)
			// No host is attested twice in an interval: a replica claims
			// a host only an interval after its last report.
			if prev != start && gap < replicaInterval-10*time.Millisecond {
				t.Errorf("%s: reports %v apart (at %v), less than the interval", host, gap, at.Format(time.StampMilli))
			}
			if at.Before(steadyUntil) && gap > 2*replicaInterval {
				t.Logf("%s: a report %v after the last (at %v), more than two intervals", host, gap, at.Format(time.StampMilli))
				late++
			}
			maxGap = max(maxGap, gap)
			prev = at
		}
		if last := ts[len(ts)-1]; end.Sub(last) > 2*replicaInterval {
			t.Logf("%s: last report %v before the end, more than two intervals", host, end.Sub(last))
			late++
		}
	}
	t.Logf("%d reports of %d hosts in %v; longest gap between a host's reports %v (two intervals: %v); %d gaps over two intervals",
		len(reports), len(perHost), end.Sub(start).Round(time.Second), maxGap.Round(time.Millisecond), 2*replicaInterval, late)
	return reports
}

// byHost returns each host's report times, oldest first.
func byHost(reports []dbReport) map[string][]time.Time {
	m := map[string][]time.Time{}
	for _, r := range reports {
		m[r.host] = append(m[r.host], r.created)
	}
	for _, ts := range m {
		slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	}
	return m
}

// replicaRig is PostgreSQL, replicas of tep-verifier serve sharing it
// and one state directory, and simulated pull-mode agents enrolled.
type replicaRig struct {
	pg              *postgres.Server
	dir, bin, state string
	reps            []*replica
}

func newReplicaRig(t *testing.T, n int) *replicaRig {
	t.Helper()
	dir, err := os.MkdirTemp("", "tep-replicas")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			os.RemoveAll(dir)
		}
	})
	pg, err := postgres.Start(postgres.Config{Log: filepath.Join(dir, "pg.log")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pg.Stop)
	fleet, err := simdevice.New(simdevice.Config{Devices: replicaHosts})
	if err != nil {
		t.Fatal(err)
	}
	if err := fleet.CA.Write(dir); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "tep-verifier")
	if out, err := exec.Command("go", "build", "-o", bin, "tep.dev/tep/cmd/tep-verifier").CombinedOutput(); err != nil {
		t.Fatalf("building tep-verifier: %v\n%s", err, out)
	}
	state := filepath.Join(dir, "state")
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}
	// The replicas start at once on one empty state directory: one of
	// them makes the TLS certificate and signing key, the others use
	// them (each replica's health check pins the certificate on disk).
	var reps []*replica
	for i := range n {
		reps = append(reps, startReplica(t, bin, state, pg.ConnString, fmt.Sprint("r", i), filepath.Join(dir, fmt.Sprint("r", i, ".log"))))
	}
	for _, r := range reps {
		waitReplica(t, r, state)
	}
	certPEM, err := os.ReadFile(filepath.Join(state, "tls-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	client, err := api.NewClient(reps[1].url, certPEM, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range fleet.Devices {
		// A replica killed mid-handshake is expected: its EOF is not logged.
		url, der := servePull(t, simAgent{d}, certPEM, log.New(io.Discard, "", 0))
		tok := tokenCmd(t, bin, state, pg.ConnString)
		if _, err := agentsvc.Enroll(ctx, simAgent{d}, client, d.HostID, tok, url, der); err != nil {
			t.Fatalf("enrolling %s: %v", d.HostID, err)
		}
	}
	return &replicaRig{pg: pg, dir: dir, bin: bin, state: state, reps: reps}
}

// checkReplicaReports: every report a replica logged as stored is in
// the database once; the database holds no report no replica logged,
// but for the few (maxUnlogged: one a kill) whose commit a kill cut
// before the log line; every replica stored reports, and those in
// offsets more than offsets says (after PostgreSQL's restarts).
func checkReplicaReports(t *testing.T, reps []*replica, reports []dbReport, offsets map[string]int, maxUnlogged int) {
	t.Helper()
	inDB := map[string]int{}
	for _, r := range reports {
		inDB[r.id]++
	}
	logged := map[string]bool{}
	for _, r := range reps {
		lines := reportLines(t, r.logPath)
		if len(lines) == 0 {
			t.Errorf("%s stored no report", r.name)
		}
		if off, ok := offsets[r.name]; ok && len(lines) <= off {
			t.Errorf("%s stored no report after PostgreSQL restarted", r.name)
		}
		if off, ok := offsets[r.name]; ok {
			t.Logf("%s stored %d reports (%d after PostgreSQL restarted)", r.name, len(lines), len(lines)-off)
		} else {
			t.Logf("%s stored %d reports", r.name, len(lines))
		}
		for _, id := range lines {
			if logged[id] {
				t.Errorf("report %s logged twice", id)
			}
			logged[id] = true
			if inDB[id] != 1 {
				t.Errorf("report %s, logged by %s, is %d times in the database", id, r.name, inDB[id])
			}
		}
	}
	unlogged := 0
	for id := range inDB {
		if !logged[id] {
			unlogged++
		}
	}
	t.Logf("%d reports in the database, %d of them logged by no replica", len(reports), unlogged)
	if unlogged > maxUnlogged {
		t.Errorf("%d reports in the database that no replica logged", unlogged)
	}
}

var reportLine = regexp.MustCompile(`msg=report host=\S+ report=(\S+)`)

// reportLines returns the report ids a replica logged as stored.
func reportLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ids []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := reportLine.FindStringSubmatch(sc.Text()); m != nil {
			ids = append(ids, m[1])
		}
	}
	return ids
}

func startReplica(t *testing.T, bin, state, db, name, logPath string) *replica {
	t.Helper()
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	port := freePort(t)
	r := &replica{name: name, url: "https://127.0.0.1:" + port, logPath: logPath}
	r.cmd = exec.Command(bin, "serve", "--state", state, "--db", db, "--replica", name,
		"--listen", "127.0.0.1:"+port, "--ek-ca", filepath.Join(filepath.Dir(logPath), simdevice.CACertFile), "--san", "127.0.0.1",
		"--pull-interval", replicaInterval.String(), "--pull-timeout", replicaTimeout.String(), "--pull-parallel", "2")
	r.cmd.Stderr = logf
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.cmd.Process.Kill(); r.cmd.Wait() })
	return r
}

// waitReplica waits until r answers its health check over TLS pinned to
// the state directory's certificate.
func waitReplica(t *testing.T, r *replica, state string) {
	t.Helper()
	for range 200 {
		if certPEM, err := os.ReadFile(filepath.Join(state, "tls-cert.pem")); err == nil {
			if c, err := api.NewClient(r.url, certPEM, nil); err == nil && c.Do(context.Background(), "GET", "/v1/health", nil, nil) == nil {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := os.ReadFile(r.logPath)
	t.Fatalf("replica %s did not come up: %s", r.name, b)
}

// tokenCmd makes a one-time enrolment token in the shared database.
func tokenCmd(t *testing.T, bin, state, db string) string {
	t.Helper()
	out, err := exec.Command(bin, "token", "create", "--state", state, "--db", db, "--role", "enroll", "--json").Output()
	if err != nil {
		t.Fatalf("token create: %v", err)
	}
	var tok struct{ Token string }
	if err := json.Unmarshal(out, &tok); err != nil {
		t.Fatal(err)
	}
	return tok.Token
}

// waitClaims waits until owner holds claims, and returns them.
func waitClaims(t *testing.T, db, owner string) []string {
	t.Helper()
	for range 2000 {
		if held := claimsOf(t, db, owner); len(held) > 0 {
			return held
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s never held a claim", owner)
	return nil
}

// claimsOf lists the hosts whose lease owner holds now.
func claimsOf(t *testing.T, db, owner string) []string {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	rows, _ := c.Query(ctx, `SELECT id FROM hosts WHERE claimed_by = $1 AND lease_until > $2`, owner, time.Now().UnixNano())
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

type dbReport struct {
	id, host, jws string
	created       time.Time
}

func dbReports(t *testing.T, db string) []dbReport {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	rows, _ := c.Query(ctx, `SELECT id, host_id, created, jws FROM reports ORDER BY created`)
	var rs []dbReport
	for rows.Next() {
		var r dbReport
		var n int64
		if err := rows.Scan(&r.id, &r.host, &n, &r.jws); err != nil {
			t.Fatal(err)
		}
		r.created = time.Unix(0, n)
		rs = append(rs, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return rs
}
