package natsd

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

func startServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

func connect(t *testing.T, url string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("connecting to %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// TestRequestReply runs the verifier's request/reply on an agent's
// subject, and a queue group of two responders that share requests, each
// request answered once.
func TestRequestReply(t *testing.T) {
	s := startServer(t, Config{})
	if !strings.HasPrefix(s.URL, "nats://127.0.0.1:") {
		t.Errorf("URL = %q, want nats://127.0.0.1:PORT", s.URL)
	}
	agent := connect(t, s.URL)
	if _, err := agent.Subscribe("trust-agent.host-1.quote", func(m *nats.Msg) {
		m.Respond(append([]byte("quote for "), m.Data...))
	}); err != nil {
		t.Fatal(err)
	}
	agent.Flush()
	verifier := connect(t, s.URL)
	reply, err := verifier.Request("trust-agent.host-1.quote", []byte("nonce-1"), 5*time.Second)
	if err != nil || string(reply.Data) != "quote for nonce-1" {
		t.Fatalf("Request = %v, %v; want the agent's answer", reply, err)
	}
	if _, err := verifier.Request("trust-agent.host-2.quote", nil, 5*time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Errorf("Request to an absent agent = %v, want ErrNoResponders", err)
	}

	var mu sync.Mutex
	served := map[string]int{}
	for _, name := range []string{"a", "b"} {
		nc := connect(t, s.URL)
		if _, err := nc.QueueSubscribe("trust-agent.*.enroll", "verifiers", func(m *nats.Msg) {
			mu.Lock()
			served[name]++
			mu.Unlock()
			m.Respond([]byte(name))
		}); err != nil {
			t.Fatal(err)
		}
		nc.Flush()
	}
	const n = 60
	for i := range n {
		if _, err := agent.Request("trust-agent.host-1.enroll", []byte{byte(i)}, 5*time.Second); err != nil {
			t.Fatalf("request %d to the queue group: %v", i, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	// Each request goes to one member at random: a member left idle
	// over 60 requests has a chance of 2^-59.
	if served["a"]+served["b"] != n || served["a"] == 0 || served["b"] == 0 {
		t.Errorf("queue group served %v, want %d requests shared by a and b", served, n)
	}
}

// TestRestart checks that a client reconnects after Restart, on the same
// URL, and that its subscription works again.
func TestRestart(t *testing.T) {
	s := startServer(t, Config{Log: filepath.Join(t.TempDir(), "nats.log")})
	reconnected := make(chan struct{}, 1)
	agent := connect(t, s.URL, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond),
		nats.ReconnectHandler(func(*nats.Conn) { reconnected <- struct{}{} }))
	if _, err := agent.Subscribe("trust-agent.host-1.quote", func(m *nats.Msg) { m.Respond([]byte("ok")) }); err != nil {
		t.Fatal(err)
	}
	agent.Flush()
	oldPid, port := s.Pid(), s.Port
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if s.Pid() == oldPid || s.Port != port {
		t.Errorf("Restart: pid %d (was %d), port %d (was %d); want a new process on the same port", s.Pid(), oldPid, s.Port, port)
	}
	select {
	case <-reconnected:
	case <-time.After(30 * time.Second):
		t.Fatal("the agent did not reconnect after Restart")
	}
	verifier := connect(t, s.URL)
	if m, err := verifier.Request("trust-agent.host-1.quote", nil, 5*time.Second); err != nil || string(m.Data) != "ok" {
		t.Errorf("Request after Restart = %v, %v; want the agent's answer", m, err)
	}
}

// TestTLSAndCredentials runs a server with TLS, a user with a password
// and an NKey user, and checks who gets in.
func TestTLSAndCredentials(t *testing.T) {
	dir := t.TempDir()
	caFile, certFile, keyFile := writeCerts(t, dir)
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := user.PublicKey()
	seed, _ := user.Seed()
	seedFile := filepath.Join(dir, "user.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	stranger, _ := nkeys.CreateUser()
	strangerSeed, _ := stranger.Seed()
	strangerFile := filepath.Join(dir, "stranger.nk")
	os.WriteFile(strangerFile, strangerSeed, 0o600)

	s := startServer(t, Config{
		TLS:   &TLS{CertFile: certFile, KeyFile: keyFile},
		Users: []User{{Name: "verifier", Password: "s3cret"}},
		NKeys: []string{pub},
	})
	if !strings.HasPrefix(s.URL, "tls://") {
		t.Errorf("URL = %q, want tls://", s.URL)
	}
	nkeyOpt, err := nats.NkeyOptionFromSeed(seedFile)
	if err != nil {
		t.Fatal(err)
	}
	strangerOpt, _ := nats.NkeyOptionFromSeed(strangerFile)
	ca := nats.RootCAs(caFile)
	for _, c := range []struct {
		name string
		opts []nats.Option
		ok   bool
	}{
		{"password", []nats.Option{ca, nats.UserInfo("verifier", "s3cret")}, true},
		{"nkey", []nats.Option{ca, nkeyOpt}, true},
		{"wrong password", []nats.Option{ca, nats.UserInfo("verifier", "guess")}, false},
		{"unknown nkey", []nats.Option{ca, strangerOpt}, false},
		{"no credentials", []nats.Option{ca}, false},
		{"unknown CA", []nats.Option{nats.UserInfo("verifier", "s3cret")}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := append([]nats.Option{nats.NoReconnect(), nats.Timeout(5 * time.Second)}, c.opts...)
			nc, err := nats.Connect(s.URL, opts...)
			if err == nil {
				defer nc.Close()
				err = nc.Publish("trust-agent.host-1.quote", nil)
				if err == nil {
					err = nc.Flush()
				}
			}
			if (err == nil) != c.ok {
				t.Errorf("connect with %s: %v, want success %v", c.name, err, c.ok)
			}
		})
	}
	// A client that will not speak TLS is refused.
	if nc, err := nats.Connect(strings.Replace(s.URL, "tls://", "nats://", 1), nats.UserInfo("verifier", "s3cret"), nats.NoReconnect()); err == nil {
		nc.Close()
		t.Error("a plain connection to a TLS server succeeded")
	}
}

// TestStopAndFailures checks Stop, and that failures to start carry what
// nats-server said.
func TestStopAndFailures(t *testing.T) {
	s, err := Start(Config{})
	if err != nil {
		t.Fatal(err)
	}
	s.Stop()
	s.Stop()
	if c, err := net.DialTimeout("tcp", s.addr(), time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after Stop", s.URL)
	}
	if err := s.Restart(); !errors.Is(err, ErrStopped) {
		t.Errorf("Restart after Stop = %v, want ErrStopped", err)
	}
	if _, err := os.Stat(s.dir); !os.IsNotExist(err) {
		t.Errorf("configuration folder after Stop: %v, want it gone", err)
	}

	if _, err := Start(Config{Bin: filepath.Join(t.TempDir(), "nats-server")}); err == nil {
		t.Error("Start with a missing program succeeded")
	}
	missing := filepath.Join(t.TempDir(), "none.pem")
	_, err = Start(Config{TLS: &TLS{CertFile: missing, KeyFile: missing}})
	if err == nil || !strings.Contains(err.Error(), "none.pem") {
		t.Errorf("Start with a missing certificate = %v, want nats-server's complaint", err)
	}
}

// writeCerts makes a CA and a server certificate for 127.0.0.1 and
// writes the CA, the certificate and its key as PEM files.
func writeCerts(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test NATS CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "nats"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	write := func(name, typ string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("cert.pem", "CERTIFICATE", der), write("key.pem", "PRIVATE KEY", keyDER)
}
