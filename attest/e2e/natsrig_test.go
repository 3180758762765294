package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/api"
	"tep.dev/tep/attest/appraise"
	"tep.dev/tep/attest/credential"
	"tep.dev/tep/attest/natsquote"
	"tep.dev/tep/attest/store"
	"tep.dev/tep/attest/verifier"
	"tep.dev/tep/internal/natsd"
	"tep.dev/tep/internal/swtpm"
)

// natsBus is a nats-server with TLS (its own certificate as the CA that
// clients check), agents that log in with an NKey and verifiers with a
// user name and password.
type natsBus struct {
	srv       *natsd.Server
	dir       string
	caFile    string
	agentSeed string
	pwFile    string
}

func newNATSBus(t testing.TB) *natsBus {
	t.Helper()
	b := &natsBus{dir: t.TempDir()}
	certPEM, keyPEM, err := api.SelfSigned("nats", []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b.caFile = b.write(t, "nats-cert.pem", certPEM)
	keyFile := b.write(t, "nats-key.pem", keyPEM)
	user, _ := nkeys.CreateUser()
	pub, _ := user.PublicKey()
	seed, _ := user.Seed()
	b.agentSeed = b.write(t, "agent.nk", seed)
	b.pwFile = b.write(t, "verifier.pw", []byte("v3rifier\n"))
	b.srv, err = natsd.Start(natsd.Config{
		Log:        filepath.Join(b.dir, "nats.log"),
		TLS:        &natsd.TLS{CertFile: b.caFile, KeyFile: keyFile},
		Users:      []natsd.User{{Name: "verifier", Password: "v3rifier"}},
		NKeys:      []string{pub},
		MaxPayload: 8 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.srv.Stop)
	return b
}

func (b *natsBus) write(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(b.dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// backoff keeps reconnections quick in tests.
const testBackoffMin, testBackoffMax = 50 * time.Millisecond, time.Second

func (b *natsBus) conn(t testing.TB, c natsquote.ConnConfig) *nats.Conn {
	t.Helper()
	c.URL, c.CAFile, c.BackoffMin, c.BackoffMax = b.srv.URL, b.caFile, testBackoffMin, testBackoffMax
	nc, err := natsquote.Connect(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// natsAgent is an agent's one NATS connection, answering for a host
// with a device until stopped.
type natsAgent struct {
	nc   *nats.Conn
	stop func()
}

// serveNATS connects as an agent and answers hostID's quote requests
// with d until stop (or the test's end).
func (b *natsBus) serveNATS(t testing.TB, hostID string, d natsquote.Device) *natsAgent {
	t.Helper()
	a := &natsAgent{nc: b.conn(t, natsquote.ConnConfig{NKeySeed: b.agentSeed, Name: "agent " + hostID})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- natsquote.Serve(ctx, a.nc, hostID, d, nil) }()
	stopped := false
	a.stop = func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve(%s): %v", hostID, err)
			}
		}
	}
	t.Cleanup(a.stop)
	// Requests before the subscription reaches the server find no one.
	if err := a.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the agent of "+hostID+" on NATS", func() bool {
		return a.nc.NumSubscriptions() == 1 && a.nc.Flush() == nil
	})
	return a
}

// replicas numbers the replicas' names in the store's schedule.
var replicas atomic.Int32

// replica is a verifier on f's store that reaches NATS-mode hosts
// through its own NATS connection, as a tep-verifier serve --nats on
// the same database would.
func (b *natsBus) replica(t testing.TB, f *fleet, caDir string) (*verifier.Verifier, *nats.Conn) {
	t.Helper()
	nc := b.conn(t, natsquote.ConnConfig{User: "verifier", PasswordFile: b.pwFile, Name: "verifier"})
	ap := appraise.New(appraise.Config{Store: f.s, Key: f.key, PolicyTTL: -1})
	return verifier.New(verifier.Config{
		Store: f.s, EK: ekChecker{certPool(t, swtpm.RootCert(caDir)), certPool(t, swtpm.IssuerCert(caDir))},
		Credential: credential.Make, Appraiser: ap, Policies: ap, PendingNonces: 64,
		Replica: "nats-replica-" + strconv.Itoa(int(replicas.Add(1))),
		Fetcher: verifier.Transports{"https": &api.Fetcher{Cert: f.cert}, natsquote.Scheme: &natsquote.Fetcher{Conn: nc}},
	}), nc
}

// waitUntil polls ok until it holds, failing the test after a generous
// bound (a condition that never holds is the failure, not its time).
func waitUntil(t testing.TB, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !ok(); time.Sleep(25 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: gave up", what)
		}
	}
}

// relabel is a device that answers with another device's evidence under
// a host id of its choosing.
type relabel struct {
	d      natsquote.Device
	hostID string
}

func (r relabel) Quote(req attest.QuoteRequest) (attest.Evidence, error) {
	ev, err := r.d.Quote(req)
	ev.HostID = r.hostID
	return ev, err
}

// reportsOf counts a host's stored reports.
func reportsOf(t testing.TB, s store.Store, hostID string) int {
	t.Helper()
	rs, err := s.Reports(context.Background(), store.ReportQuery{HostID: hostID})
	if err != nil {
		t.Fatal(err)
	}
	return len(rs)
}
