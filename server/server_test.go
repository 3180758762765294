package server

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tep.dev/tep/link"
	"tep.dev/tep/p11"
	p11client "tep.dev/tep/provider/client"
	"tep.dev/tep/server/store"
	"tep.dev/tep/tpm"
)

const (
	soPIN   = "87654321"
	userPIN = "1234"
)

// fixture is a server with one initialised token, serving a pty.
type fixture struct {
	srv  *Server
	tpm  *tpm.TPM
	port string
	now  *fakeClock
	rx   *atomic.Int64 // bytes the server read from the port
}

// countingStream counts the bytes read from a stream.
type countingStream struct {
	link.Stream
	n *atomic.Int64
}

func (c countingStream) Read(p []byte) (int, error) {
	n, err := c.Stream.Read(p)
	c.n.Add(int64(n))
	return n, err
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// openState opens the TPM (tpmSpec) and the database of state directory
// dir, closed when the test ends. Tests try wrong PINs on purpose, so the
// TPM allows more than a real one would.
func openState(t testing.TB, dir, tpmSpec string) (*tpm.TPM, *store.Store) {
	t.Helper()
	tp, err := tpm.Open(tpmSpec, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tp.Close() })
	if err := tp.SetDictionaryAttack(100, 1, 1, nil); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(dir, "tep.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return tp, st
}

// newFixture runs a server on a fresh TPM and store with a token, serving
// a pty. tune, if given, changes the server's configuration.
func newFixture(t testing.TB, tpmSpec string, tune ...func(*Config)) *fixture {
	t.Helper()
	dir := t.TempDir()
	tp, st := openState(t, dir, tpmSpec)
	clock := &fakeClock{t: time.Unix(1800000000, 0)}
	cfg := Config{Lease: time.Hour, Now: clock.Now, Log: slog.New(slog.DiscardHandler)}
	for _, f := range tune {
		f(&cfg)
	}
	srv, err := New(tp, st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	slot, err := srv.CreateToken("TEP Token", []byte(soPIN))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.SetUserPIN(slot, []byte(soPIN), []byte(userPIN)); err != nil {
		t.Fatal(err)
	}
	p, err := link.NewPTY(filepath.Join(dir, "ttyS4"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	rx := new(atomic.Int64)
	go func() { srv.ServeStream(ctx, countingStream{p.Master, rx}, p.Path); close(done) }()
	t.Cleanup(func() { cancel(); <-done; p.Close() })
	return &fixture{srv: srv, tpm: tp, port: p.Path, now: clock, rx: rx}
}

func (f *fixture) dial(t testing.TB) *p11client.Client {
	t.Helper()
	c, err := p11client.Dial(p11client.Config{Port: f.port, StartTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func wantRV(t *testing.T, what string, err error, want p11.RV) {
	t.Helper()
	var got p11.RV
	if err == nil {
		got = p11.CKR_OK
	} else if !errors.As(err, &got) {
		t.Fatalf("%s: %v, want %v", what, err, want)
	}
	if got != want {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

func TestSlotsAndTokens(t *testing.T) {
	f := newFixture(t, "sim", allowTokenInit)
	c := f.dial(t)
	slots, err := c.SlotList(true)
	if err != nil || !slices.Equal(slots, []uint64{1, 2}) {
		t.Fatalf("SlotList = %v, %v, want [1 2]: the token and a free slot", slots, err)
	}
	info, err := c.TokenInfo(1)
	if err != nil {
		t.Fatal(err)
	}
	want := uint64(p11.CKF_TOKEN_INITIALIZED | p11.CKF_USER_PIN_INITIALIZED | p11.CKF_RNG | p11.CKF_LOGIN_REQUIRED)
	if info.Label != "TEP Token" || info.Flags != want {
		t.Errorf("TokenInfo(1) = %q flags %#x, want \"TEP Token\" flags %#x", info.Label, info.Flags, want)
	}
	free, err := c.TokenInfo(2)
	if err != nil || free.Flags&p11.CKF_TOKEN_INITIALIZED != 0 {
		t.Errorf("TokenInfo(2) flags %#x, %v: want an uninitialised token", free.Flags, err)
	}
	_, err = c.TokenInfo(3)
	wantRV(t, "TokenInfo(3)", err, p11.CKR_SLOT_ID_INVALID)
	_, err = c.OpenSession(2, p11.CKF_SERIAL_SESSION)
	wantRV(t, "OpenSession on the free slot", err, p11.CKR_TOKEN_NOT_RECOGNIZED)
	_, err = c.OpenSession(1, 0)
	wantRV(t, "OpenSession without CKF_SERIAL_SESSION", err, p11.CKR_SESSION_PARALLEL_NOT_SUPPORTED)
	mechs, err := c.MechanismList(1)
	if err != nil || !slices.Contains(mechs, p11.CKM_SHA256) || !slices.Contains(mechs, p11.CKM_ECDSA) {
		t.Errorf("MechanismList = %v, %v: want digests and verification", mechs, err)
	}
	_, err = c.MechanismInfo(1, 0x1234)
	wantRV(t, "MechanismInfo(unknown)", err, p11.CKR_MECHANISM_INVALID)
}

// allowTokenInit is a fixture tune: guests may make tokens on the free slot.
func allowTokenInit(c *Config) { c.AllowTokenInit = true }

// TestNoTokenInitByDefault: unless the operator allows it, a guest sees
// only the initialised tokens and cannot make one of its own: as the SO of
// its own token it could reset that token's PIN counts at will and spend
// the TPM's dictionary-attack budget that every token's PINs share.
func TestNoTokenInitByDefault(t *testing.T) {
	f := newFixture(t, "sim")
	c := f.dial(t)
	slots, err := c.SlotList(false)
	if err != nil || !slices.Equal(slots, []uint64{1}) {
		t.Fatalf("SlotList = %v, %v, want [1]: no free slot", slots, err)
	}
	_, err = c.TokenInfo(2)
	wantRV(t, "TokenInfo(2)", err, p11.CKR_SLOT_ID_INVALID)
	err = c.InitToken(2, []byte(soPIN), "stranger's token")
	wantRV(t, "InitToken(2)", err, p11.CKR_SLOT_ID_INVALID)
	// Re-initialising the existing token with its SO PIN stays possible.
	if err := c.InitToken(1, []byte(soPIN), "again"); err != nil {
		t.Fatalf("InitToken(1) with the SO PIN: %v", err)
	}
}

func TestInitTokenOnFreeSlotAndPINs(t *testing.T) {
	f := newFixture(t, "sim", allowTokenInit)
	c := f.dial(t)
	wantRV(t, "InitToken with a short SO PIN", c.InitToken(2, []byte("12"), "x"), p11.CKR_PIN_LEN_RANGE)
	if err := c.InitToken(2, []byte("so-secret"), "second"); err != nil {
		t.Fatal(err)
	}
	slots, _ := c.SlotList(true)
	if !slices.Equal(slots, []uint64{1, 2, 3}) {
		t.Fatalf("after InitToken: slots %v, want [1 2 3]", slots)
	}
	s, err := c.OpenSession(2, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	wantRV(t, "user login before InitPIN", c.Login(s, p11.CKU_USER, []byte("4321")), p11.CKR_USER_PIN_NOT_INITIALIZED)
	wantRV(t, "InitPIN without SO login", c.InitPIN(s, []byte("4321")), p11.CKR_USER_NOT_LOGGED_IN)
	wantRV(t, "SO login, wrong PIN", c.Login(s, p11.CKU_SO, []byte("wrong-pin")), p11.CKR_PIN_INCORRECT)
	if err := c.Login(s, p11.CKU_SO, []byte("so-secret")); err != nil {
		t.Fatal(err)
	}
	info, _ := c.SessionInfo(s)
	if info.State != p11.CKS_RW_SO_FUNCTIONS {
		t.Errorf("state after SO login = %d, want CKS_RW_SO_FUNCTIONS", info.State)
	}
	if err := c.InitPIN(s, []byte("4321")); err != nil {
		t.Fatal(err)
	}
	if err := c.Logout(s); err != nil {
		t.Fatal(err)
	}
	wantRV(t, "second logout", c.Logout(s), p11.CKR_USER_NOT_LOGGED_IN)
	if err := c.Login(s, p11.CKU_USER, []byte("4321")); err != nil {
		t.Fatal(err)
	}
	wantRV(t, "login twice", c.Login(s, p11.CKU_USER, []byte("4321")), p11.CKR_USER_ALREADY_LOGGED_IN)
	wantRV(t, "SetPIN with a wrong old PIN", c.SetPIN(s, []byte("0000"), []byte("5555")), p11.CKR_PIN_INCORRECT)
	if err := c.SetPIN(s, []byte("4321"), []byte("5555")); err != nil {
		t.Fatal(err)
	}
	c.Logout(s)
	wantRV(t, "login with the old PIN", c.Login(s, p11.CKU_USER, []byte("4321")), p11.CKR_PIN_INCORRECT)
	if err := c.Login(s, p11.CKU_USER, []byte("5555")); err != nil {
		t.Fatalf("login with the new PIN: %v", err)
	}
}

func TestSessionsBelongToTheirClient(t *testing.T) {
	f := newFixture(t, "sim")
	a, b := f.dial(t), f.dial(t)
	s, err := a.OpenSession(1, p11.CKF_SERIAL_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.SessionInfo(s)
	wantRV(t, "another client's session", err, p11.CKR_SESSION_HANDLE_INVALID)
	wantRV(t, "closing another client's session", b.CloseSession(s), p11.CKR_SESSION_HANDLE_INVALID)
	if err := a.Login(s, p11.CKU_USER, []byte(userPIN)); err != nil {
		t.Fatal(err)
	}
	sb, err := b.OpenSession(1, p11.CKF_SERIAL_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := b.SessionInfo(sb)
	if info.State != p11.CKS_RO_PUBLIC_SESSION {
		t.Errorf("client b's session state = %d: a's login leaked into b", info.State)
	}
	if err := a.CloseSession(s); err != nil {
		t.Fatal(err)
	}
	s2, _ := a.OpenSession(1, p11.CKF_SERIAL_SESSION)
	info, _ = a.SessionInfo(s2)
	if info.State != p11.CKS_RO_PUBLIC_SESSION {
		t.Errorf("state after the last session closed = %d, want logged out", info.State)
	}
}

func TestLeaseDropsSilentClients(t *testing.T) {
	f := newFixture(t, "sim")
	c := f.dial(t)
	s, err := c.OpenSession(1, p11.CKF_SERIAL_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	f.now.Advance(30 * time.Minute)
	f.srv.reapOnce()
	if _, err := c.SessionInfo(s); err != nil {
		t.Fatalf("session gone within the lease: %v", err)
	}
	f.now.Advance(61 * time.Minute)
	f.srv.reapOnce()
	if n := f.srv.Clients(); n != 0 {
		t.Fatalf("%d clients after the lease expired, want 0", n)
	}
	// The client's channel went with its state: the server says so, and
	// the client fails the call rather than run a new handshake.
	if _, err = c.SessionInfo(s); !errors.Is(err, link.ErrNoChannel) {
		t.Fatalf("call after the lease = %v, want link.ErrNoChannel", err)
	}
	if st := f.srv.ChannelStats(); st.Unknown != 1 {
		t.Errorf("ChannelStats().Unknown = %d, want 1", st.Unknown)
	}
}

func TestDigestsAndRandom(t *testing.T) {
	f := newFixture(t, "sim")
	c := f.dial(t)
	s, err := c.OpenSession(1, p11.CKF_SERIAL_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("This is my data object")
	for _, tt := range []struct {
		mech uint64
		sum  func([]byte) []byte
	}{
		{p11.CKM_SHA_1, func(b []byte) []byte { s := sha1.Sum(b); return s[:] }},
		{p11.CKM_SHA256, func(b []byte) []byte { s := sha256.Sum256(b); return s[:] }},
		{p11.CKM_SHA384, func(b []byte) []byte { s := sha512.Sum384(b); return s[:] }},
		{p11.CKM_SHA512, func(b []byte) []byte { s := sha512.Sum512(b); return s[:] }},
	} {
		want := tt.sum(data)
		if err := c.DigestInit(s, p11.Mechanism{Type: tt.mech}); err != nil {
			t.Fatal(err)
		}
		wantRV(t, "second DigestInit", c.DigestInit(s, p11.Mechanism{Type: tt.mech}), p11.CKR_OPERATION_ACTIVE)
		_, n, err := c.Digest(s, data, -1)
		if err != nil || n != uint64(len(want)) {
			t.Fatalf("length query = %d, %v, want %d", n, err, len(want))
		}
		_, _, err = c.Digest(s, data, 3)
		wantRV(t, "Digest into a short buffer", err, p11.CKR_BUFFER_TOO_SMALL)
		got, _, err := c.Digest(s, data, int64(len(want)))
		if err != nil || string(got) != string(want) {
			t.Fatalf("Digest(%#x) = %x, %v, want %x", tt.mech, got, err, want)
		}
		// Multi-part, with a short buffer at the final.
		c.DigestInit(s, p11.Mechanism{Type: tt.mech})
		c.DigestUpdate(s, data[:5])
		c.DigestUpdate(s, data[5:])
		_, _, err = c.DigestFinal(s, 1)
		wantRV(t, "DigestFinal into a short buffer", err, p11.CKR_BUFFER_TOO_SMALL)
		got, _, err = c.DigestFinal(s, 64)
		if err != nil || string(got) != string(want) {
			t.Fatalf("multi-part digest = %x, %v, want %x", got, err, want)
		}
	}
	_, _, err = c.Digest(s, data, 64)
	wantRV(t, "Digest without init", err, p11.CKR_OPERATION_NOT_INITIALIZED)
	wantRV(t, "DigestInit with an unknown mechanism", c.DigestInit(s, p11.Mechanism{Type: 0x9999}), p11.CKR_MECHANISM_INVALID)

	big := make([]byte, 20<<20) // longer than one call carries
	for i := range big {
		big[i] = byte(i)
	}
	c.DigestInit(s, p11.Mechanism{Type: p11.CKM_SHA256})
	// A length query leaves the data at home: the length does not depend
	// on it.
	before := f.rx.Load()
	if _, n, err := c.Digest(s, big[:4<<20], -1); err != nil || n != 32 {
		t.Fatalf("length query of a 4 MiB digest = %d, %v", n, err)
	}
	if sent := f.rx.Load() - before; sent > 4096 {
		t.Errorf("a length query sent %d bytes", sent)
	}
	got, _, err := c.Digest(s, big, 32)
	if want := sha256.Sum256(big); err != nil || string(got) != string(want[:]) {
		t.Fatalf("20 MiB digest = %x, %v", got, err)
	}

	for _, n := range []int{0, 1, 32, 100000, 3 << 20} {
		out := make([]byte, n)
		if err := c.GenerateRandom(s, out); err != nil {
			t.Fatalf("GenerateRandom(%d): %v", n, err)
		}
		if n >= 32 && string(out[:16]) == string(make([]byte, 16)) {
			t.Errorf("GenerateRandom(%d) returned zeros", n)
		}
	}
	wantRV(t, "GenerateRandom on no session", c.GenerateRandom(999, make([]byte, 4)), p11.CKR_SESSION_HANDLE_INVALID)
	if err := c.SeedRandom(s, []byte("some entropy")); err != nil {
		t.Fatal(err)
	}
}

// openAt opens the simulator, the store and a server on the state in dir,
// as tepd does at start.
func openAt(t *testing.T, dir string) (*tpm.TPM, *store.Store, *Server) {
	t.Helper()
	tp, err := tpm.Open("sim", dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(dir, "tep.db"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(tp, st, Config{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return tp, st, srv
}

func TestRestartKeepsTokens(t *testing.T) {
	dir := t.TempDir()
	open := func() (*tpm.TPM, *store.Store, *Server) { return openAt(t, dir) }
	tp, st, srv := open()
	slot, err := srv.CreateToken("kept", []byte(soPIN))
	if err == nil {
		err = srv.SetUserPIN(slot, []byte(soPIN), []byte(userPIN))
	}
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	st.Close()
	tp.Close()

	tp, st, srv = open()
	defer func() { srv.Close(); st.Close(); tp.Close() }()
	// The seal made before the restart opens with the same PIN.
	if err := srv.SetUserPIN(slot, []byte(soPIN), []byte("9999")); err != nil {
		t.Fatalf("after restart, the SO PIN no longer opens the token: %v", err)
	}
}

// TestShortLeaseKeepsLiveClients: a live client keeps its session on a
// server whose lease is shorter than the default keep-alive interval: the
// server's hello tells the client the lease.
func TestShortLeaseKeepsLiveClients(t *testing.T) {
	f := newFixture(t, "sim", func(c *Config) { c.Lease, c.Now = 600*time.Millisecond, nil })
	c := f.dial(t)
	s, err := c.OpenSession(1, p11.CKF_SERIAL_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // three leases, idle
	if _, err := c.SessionInfo(s); err != nil {
		t.Errorf("session after 2 s idle with a 600 ms lease: %v", err)
	}
}
