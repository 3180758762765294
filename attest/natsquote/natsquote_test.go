package natsquote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/api"
	"tep.dev/tep/attest/store"
	"tep.dev/tep/internal/natsd"
)

// quoter answers quote requests with evidence that echoes the nonce, or
// with err.
type quoter struct {
	hostID string
	err    error
	pad    int // bytes of IMA log, to make large evidence
}

func (q quoter) Quote(req attest.QuoteRequest) (attest.Evidence, error) {
	if q.err != nil {
		return attest.Evidence{}, q.err
	}
	return attest.Evidence{HostID: q.hostID, Nonce: req.Nonce, IMALog: make([]byte, q.pad)}, nil
}

// rig is a nats-server with TLS, a verifier user with a password and an
// agent NKey, and the files a client needs.
type rig struct {
	srv                       *natsd.Server
	dir, caFile               string
	agentSeed, verifierPWFile string
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{dir: t.TempDir()}
	certPEM, keyPEM, err := api.SelfSigned("nats", []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	r.caFile = r.write(t, "nats-cert.pem", certPEM)
	keyFile := r.write(t, "nats-key.pem", keyPEM)
	user, _ := nkeys.CreateUser()
	pub, _ := user.PublicKey()
	seed, _ := user.Seed()
	r.agentSeed = r.write(t, "agent.nk", seed)
	r.verifierPWFile = r.write(t, "verifier.pw", []byte("s3cret\n"))
	r.srv, err = natsd.Start(natsd.Config{
		TLS:   &natsd.TLS{CertFile: r.caFile, KeyFile: keyFile},
		Users: []natsd.User{{Name: "verifier", Password: "s3cret"}},
		NKeys: []string{pub},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.srv.Stop)
	return r
}

func (r *rig) write(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(r.dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func (r *rig) agentConf() ConnConfig {
	return ConnConfig{URL: r.srv.URL, NKeySeed: r.agentSeed, CAFile: r.caFile, BackoffMin: 50 * time.Millisecond}
}

func (r *rig) verifierConf() ConnConfig {
	return ConnConfig{URL: r.srv.URL, User: "verifier", PasswordFile: r.verifierPWFile, CAFile: r.caFile}
}

func connect(t *testing.T, c ConnConfig, log *slog.Logger) *nats.Conn {
	t.Helper()
	nc, err := Connect(c, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// serve runs Serve for hostID with d until the test ends.
func serve(t *testing.T, nc *nats.Conn, hostID string, d Device) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, nc, hostID, d, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	// Wait until the subscription has reached the server.
	waitFor(t, "the agent's subscription", func() bool {
		_, err := nc.Request(QuoteSubject(hostID), []byte("{}"), time.Second)
		return err == nil
	})
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: gave up", what)
		}
	}
}

func host(id string) store.Host { return store.Host{ID: id, PullURL: URL(id)} }

// TestServeFetch runs quote requests from a verifier to agents over TLS,
// the agent with an NKey and the verifier with a password, and what the
// verifier gets when the agent cannot answer.
func TestServeFetch(t *testing.T) {
	r := newRig(t)
	agent := connect(t, r.agentConf(), nil)
	serve(t, agent, "h1", quoter{hostID: "h1"})
	serve(t, agent, "broken", quoter{err: errors.New("TPM in failure mode")})
	serve(t, agent, "huge", quoter{hostID: "huge", pad: int(agent.MaxPayload())})
	f := &Fetcher{Conn: connect(t, r.verifierConf(), nil)}
	ctx := context.Background()

	ev, err := f.Fetch(ctx, host("h1"), attest.QuoteRequest{Nonce: []byte("n1"), PCRs: []int{10}})
	if err != nil || ev.HostID != "h1" || string(ev.Nonce) != "n1" {
		t.Errorf("Fetch(h1) = %+v, %v; want h1's evidence over nonce n1", ev, err)
	}
	for _, tc := range []struct {
		name string
		h    store.Host
		want string
	}{
		{"no agent", host("h2"), ErrNoAgent.Error()},
		{"device error", host("broken"), "TPM in failure mode"},
		{"evidence over max_payload", host("huge"), "max_payload"},
		{"pull URL of another host", store.Host{ID: "h1", PullURL: URL("h2")}, "is not"},
	} {
		_, err := f.Fetch(ctx, tc.h, attest.QuoteRequest{Nonce: []byte("n")})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Fetch, %s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
	if _, err := f.Fetch(ctx, host("h2"), attest.QuoteRequest{}); !errors.Is(err, ErrNoAgent) {
		t.Errorf("Fetch of an absent agent = %v, want ErrNoAgent", err)
	}
	tctx, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	<-tctx.Done()
	if _, err := f.Fetch(tctx, host("h1"), attest.QuoteRequest{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Fetch after the deadline = %v, want DeadlineExceeded", err)
	}
}

// TestBadRequests sends the agent requests that it must refuse with an
// error reply, not a quote.
func TestBadRequests(t *testing.T) {
	r := newRig(t)
	agent := connect(t, r.agentConf(), nil)
	serve(t, agent, "h1", quoter{hostID: "h1"})
	v := connect(t, r.verifierConf(), nil)
	for name, body := range map[string][]byte{
		"malformed":     []byte(`{"nonce":`),
		"unknown field": []byte(`{"nonce":"AA==","shell":"rm -rf /"}`),
		"too large":     append([]byte(`{"nonce":"`), bytes.Repeat([]byte("A"), MaxRequest)...),
	} {
		m, err := v.Request(QuoteSubject("h1"), body, 10*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var rep Reply
		if err := json.Unmarshal(m.Data, &rep); err != nil || rep.Evidence != nil || rep.Error == "" {
			t.Errorf("%s request: reply %s, %v; want an error and no evidence", name, m.Data, err)
		}
	}
}

// TestConnConfig checks the configurations Connect refuses, and that a
// server whose certificate the client cannot check is never used.
func TestConnConfig(t *testing.T) {
	r := newRig(t)
	missing := filepath.Join(r.dir, "missing")
	for _, tc := range []struct {
		name string
		c    ConnConfig
	}{
		{"no URL", ConnConfig{}},
		{"two credentials", ConnConfig{URL: r.srv.URL, NKeySeed: r.agentSeed, User: "verifier", Password: "s3cret"}},
		{"user without password", ConnConfig{URL: r.srv.URL, User: "verifier"}},
		{"missing password file", ConnConfig{URL: r.srv.URL, User: "verifier", PasswordFile: missing}},
		{"missing NKey seed", ConnConfig{URL: r.srv.URL, NKeySeed: missing}},
		{"certificate without key", ConnConfig{URL: r.srv.URL, CertFile: r.caFile}},
	} {
		if nc, err := Connect(tc.c, nil); err == nil {
			nc.Close()
			t.Errorf("Connect with %s succeeded", tc.name)
		}
	}

	for name, c := range map[string]ConnConfig{
		// The server's certificate is not under the system's roots.
		"no CA":          {URL: r.srv.URL, User: "verifier", PasswordFile: r.verifierPWFile},
		"wrong password": {URL: r.srv.URL, User: "verifier", Password: "guess", CAFile: r.caFile},
	} {
		t.Run(name, func(t *testing.T) {
			var mu sync.Mutex
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
			nc := connect(t, c, log)
			waitFor(t, "a failed attempt in the log", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return strings.Contains(logs.String(), "attempt failed")
			})
			if nc.IsConnected() {
				t.Errorf("connected with %s", name)
			}
		})
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// TestReconnect restarts the server: the agent's one connection comes
// back with its subscription, and the verifier's requests reach it
// again.
func TestReconnect(t *testing.T) {
	r := newRig(t)
	agent := connect(t, r.agentConf(), nil)
	serve(t, agent, "h1", quoter{hostID: "h1"})
	f := &Fetcher{Conn: connect(t, ConnConfig{URL: r.srv.URL, User: "verifier", PasswordFile: r.verifierPWFile, CAFile: r.caFile, BackoffMin: 50 * time.Millisecond}, nil)}
	if err := r.srv.Restart(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a quote after the restart", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := f.Fetch(ctx, host("h1"), attest.QuoteRequest{})
		return err == nil
	})
	if n := agent.Stats().Reconnects; n < 1 {
		t.Errorf("the agent reconnected %d times, want at least once", n)
	}
}

func TestBackoff(t *testing.T) {
	lo, hi := 100*time.Millisecond, 2*time.Second
	for n, want := range map[int]time.Duration{1: lo, 2: 2 * lo, 3: 4 * lo, 5: 16 * lo, 6: hi, 40: hi, 0: hi} {
		for range 20 {
			if d := backoff(n, lo, hi); d < want || d > want+want/4 {
				t.Errorf("backoff(%d) = %v, want %v plus at most a quarter", n, d, want)
				break
			}
		}
	}
}

func TestURL(t *testing.T) {
	if got := fmt.Sprint(URL("web-1"), " ", QuoteSubject("web-1")); got != "nats:trust-agent.web-1 trust-agent.web-1.quote" {
		t.Errorf("URL, QuoteSubject = %s", got)
	}
	if !IsURL(URL("a")) || IsURL("https://a") {
		t.Error("IsURL does not tell NATS URLs from others")
	}
}

// TestListen runs two verifier replicas in the queue group: the agent's
// announcement at start, after a server restart, and announcements that
// anyone sends each reach one replica; a host announced again within the
// quiet time is not attested again by the same replica.
func TestListen(t *testing.T) {
	r := newRig(t)
	var mu sync.Mutex
	got := map[string][]string{} // replica -> hosts
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var replicas []*nats.Conn
	for _, name := range []string{"r1", "r2"} {
		nc := connect(t, ConnConfig{URL: r.srv.URL, User: "verifier", PasswordFile: r.verifierPWFile, CAFile: r.caFile, BackoffMin: 50 * time.Millisecond}, nil)
		wg.Go(func() {
			err := Listen(ctx, nc, time.Hour, 0, func(_ context.Context, id string) {
				mu.Lock()
				got[name] = append(got[name], id)
				mu.Unlock()
			}, nil)
			if err != nil {
				t.Error(err)
			}
		})
		waitFor(t, "the replica in the queue group", func() bool { return nc.NumSubscriptions() == 1 && nc.Flush() == nil })
		replicas = append(replicas, nc)
	}
	defer func() { cancel(); wg.Wait() }()
	calls := func() (n int, hosts map[string]int) {
		mu.Lock()
		defer mu.Unlock()
		hosts = map[string]int{}
		for _, ids := range got {
			n += len(ids)
			for _, id := range ids {
				hosts[id]++
			}
		}
		return n, hosts
	}

	agent := connect(t, r.agentConf(), nil)
	serve(t, agent, "h1", quoter{hostID: "h1"})
	waitFor(t, "h1's announcement", func() bool { n, _ := calls(); return n == 1 })
	// Announced again, h1 is within the quiet time of the replica that
	// took it; the other may take it once.
	if err := r.srv.Restart(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the agent back", func() bool { return agent.Stats().Reconnects >= 1 && agent.IsConnected() })
	for _, nc := range replicas {
		waitFor(t, "the replicas back", func() bool { return nc.IsConnected() && nc.Flush() == nil })
	}
	pub := connect(t, r.agentConf(), nil)
	const n = 40
	for i := range n {
		if err := pub.Publish(OnlineSubject(fmt.Sprintf("x%d.site", i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	pub.Publish(Prefix+"x0.quote", nil) // not an announcement
	waitFor(t, "the announcements", func() bool { n2, _ := calls(); return n2 >= n+1 })
	pub.Flush()
	total, hosts := calls()
	if hosts["h1"] < 1 || hosts["h1"] > 2 {
		t.Errorf("h1 attested %d times, want 1 or 2 (once per replica at most)", hosts["h1"])
	}
	for i := range n {
		if id := fmt.Sprintf("x%d.site", i); hosts[id] != 1 {
			t.Errorf("%s attested %d times, want once", id, hosts[id])
		}
	}
	if total != n+hosts["h1"] {
		t.Errorf("%d calls, want %d: %v", total, n+hosts["h1"], hosts)
	}
	mu.Lock()
	if len(got["r1"]) == 0 || len(got["r2"]) == 0 {
		t.Errorf("replicas took %d and %d announcements, want both some", len(got["r1"]), len(got["r2"]))
	}
	mu.Unlock()
}

func TestHostOf(t *testing.T) {
	for subj, want := range map[string]string{
		OnlineSubject("web-1"): "web-1", OnlineSubject("a.b"): "a.b",
		QuoteSubject("web-1"): "", OnlinePrefix: "", "other": "",
	} {
		if got := hostOf(subj); got != want {
			t.Errorf("hostOf(%q) = %q, want %q", subj, got, want)
		}
	}
}

// slow is a device whose quote waits for release.
type slow struct {
	started chan struct{}
	release chan struct{}
}

func (s slow) Quote(req attest.QuoteRequest) (attest.Evidence, error) {
	close(s.started)
	<-s.release
	return attest.Evidence{HostID: "h1", Nonce: req.Nonce}, nil
}

// TestServeDrains: Serve returns after the quote in progress when it
// stops has been answered, not while the TPM is still in use.
func TestServeDrains(t *testing.T) {
	r := newRig(t)
	agent := connect(t, r.agentConf(), nil)
	d := slow{started: make(chan struct{}), release: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, agent, "h1", d, nil) }()
	f := &Fetcher{Conn: connect(t, r.verifierConf(), nil)}
	fetched := make(chan error, 1)
	waitFor(t, "the agent's subscription", func() bool { return agent.NumSubscriptions() == 1 && agent.Flush() == nil })
	go func() {
		_, err := f.Fetch(context.Background(), host("h1"), attest.QuoteRequest{Nonce: []byte("n")})
		fetched <- err
	}()
	<-d.started
	cancel()
	select {
	case err := <-served:
		t.Fatalf("Serve returned (%v) while a quote was in progress", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(d.release)
	if err := <-served; err != nil {
		t.Errorf("Serve = %v", err)
	}
	if err := <-fetched; err != nil {
		t.Errorf("the quote in progress at shutdown: %v, want it answered", err)
	}
}
