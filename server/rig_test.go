package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"tep.dev/tep/link"
	"tep.dev/tep/p11"
	p11client "tep.dev/tep/provider/client"
	"tep.dev/tep/server/store"
	"tep.dev/tep/tpm"
)

// rig is a server on a state directory (TPM and database) that a test
// stops and starts again, serving a pty.
type rig struct {
	t     *testing.T
	dir   string
	tpm   *tpm.TPM
	store *store.Store
	srv   *Server
	port  string
	log   *logBuffer // what the servers logged
	stop  func()
	conns []*p11client.Client // of the running server
}

// openRig opens the TPM (tpmSpec) and the database of state directory dir
// and starts a server on them.
func openRig(t *testing.T, dir, tpmSpec string) *rig {
	t.Helper()
	tp, st := openState(t, dir, tpmSpec)
	r := &rig{t: t, dir: dir, tpm: tp, store: st, log: new(logBuffer)}
	r.start()
	t.Cleanup(func() { r.closeClients(); r.stop() })
	return r
}

// logBuffer collects a server's log lines, which its goroutines write
// while the test reads.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newRig is a rig on a fresh state directory with one token whose PINs
// are soPIN and userPIN.
func newRig(t *testing.T, tpmSpec string) *rig {
	t.Helper()
	r := openRig(t, t.TempDir(), tpmSpec)
	slot, err := r.srv.CreateToken("TEP Token", []byte(soPIN))
	if err == nil {
		err = r.srv.SetUserPIN(slot, []byte(soPIN), []byte(userPIN))
	}
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *rig) start() {
	t := r.t
	t.Helper()
	srv, err := New(r.tpm, r.store, Config{Lease: time.Hour, AllowTokenInit: true, Log: slog.New(slog.NewTextHandler(r.log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	p, err := link.NewPTY(filepath.Join(t.TempDir(), "ttyS4"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.ServeStream(ctx, p.Master, p.Path); close(done) }()
	r.srv, r.port = srv, p.Path
	r.stop = func() { cancel(); <-done; p.Close(); srv.Close() }
}

// restart closes the clients, stops the server and starts a new one on
// the same TPM and database, as a restart of tepd does.
func (r *rig) restart() {
	r.t.Helper()
	r.closeClients()
	r.stop()
	r.start()
}

// dial connects a client, which the rig closes at a restart or the end.
func (r *rig) dial() *p11client.Client {
	r.t.Helper()
	c, err := p11client.Dial(p11client.Config{Port: r.port, StartTimeout: 5 * time.Second})
	if err != nil {
		r.t.Fatal(err)
	}
	r.conns = append(r.conns, c)
	return c
}

func (r *rig) closeClients() {
	for _, c := range r.conns {
		c.Close()
	}
	r.conns = nil
}

// storedObject is what a token object is, apart from its handle.
type storedObject struct {
	slot  uint64
	attrs map[uint64][]byte
	key   *keyRef
}

// tokenObjects returns the token objects the server holds, by row id.
func tokenObjects(s *Server) map[int64]storedObject {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[int64]storedObject{}
	for _, o := range s.objects {
		if o.id != 0 {
			m[o.id] = storedObject{slot: o.slot, attrs: o.attrs, key: o.key}
		}
	}
	return m
}

// sameObjects reports how got and want differ, if they do.
func sameObjects(t *testing.T, what string, got, want map[int64]storedObject) {
	t.Helper()
	for id, w := range want {
		g, ok := got[id]
		switch {
		case !ok:
			t.Errorf("%s: object %d (%q) is gone", what, id, w.attrs[p11.CKA_LABEL])
		case !reflect.DeepEqual(g, w):
			t.Errorf("%s: object %d (%q) changed:\n got %+v\nwant %+v", what, id, w.attrs[p11.CKA_LABEL], g, w)
		}
	}
	for id, g := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("%s: object %d (%q) appeared", what, id, g.attrs[p11.CKA_LABEL])
		}
	}
}

// findOne returns the one object of session s that matches tmpl.
func findOne(t *testing.T, c *p11client.Client, s uint64, tmpl []p11.Attribute) uint64 {
	t.Helper()
	if err := c.FindObjectsInit(s, tmpl); err != nil {
		t.Fatal(err)
	}
	found, err := c.FindObjects(s, 10)
	c.FindObjectsFinal(s)
	if err != nil || len(found) != 1 {
		t.Fatalf("FindObjects(%v) = %v, %v, want one object", tmpl, found, err)
	}
	return found[0]
}

// signsP256 checks that the EC P-256 private key labelled label signs,
// with a signature its public key (same label) verifies.
func signsP256(t *testing.T, c *p11client.Client, s uint64, label string) {
	t.Helper()
	priv := findOne(t, c, s, []p11.Attribute{attr(p11.CKA_CLASS, p11.Ulong(p11.CKO_PRIVATE_KEY)), attr(p11.CKA_LABEL, []byte(label))})
	pub := findOne(t, c, s, []p11.Attribute{attr(p11.CKA_CLASS, p11.Ulong(p11.CKO_PUBLIC_KEY)), attr(p11.CKA_LABEL, []byte(label))})
	sum := sha256.Sum256([]byte("signed after the upgrade"))
	if err := c.SignInit(s, p11.Mechanism{Type: p11.CKM_ECDSA}, priv); err != nil {
		t.Fatalf("SignInit with %q: %v", label, err)
	}
	sig, _, err := c.Sign(s, sum[:], 64)
	if err != nil {
		t.Fatalf("Sign with %q: %v", label, err)
	}
	k := publicOf(t, c, s, pub).(*ecdsa.PublicKey)
	if len(sig) != 64 || !ecdsa.Verify(k, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		t.Errorf("the signature of %q does not verify", label)
	}
}

// filesHolding lists the regular files under dir that contain marker.
func filesHolding(t *testing.T, dir string, marker []byte) []string {
	t.Helper()
	var hits []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, marker) {
			hits = append(hits, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

// copyDir copies the regular files of dir (not its subdirectories) into
// a new directory.
func copyDir(t *testing.T, dir string) string {
	t.Helper()
	to := t.TempDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return to
}
