package server

import (
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"testing"
	"time"

	"tep.dev/tep/p11"
	p11client "tep.dev/tep/provider/client"
	"tep.dev/tep/tpm/tpmtest"
)

// propSteps bounds a run of TestRestartKeepsTokenObjects: seconds, not
// minutes, on the simulator.
const propSteps = 300

// TestRestartKeepsTokenObjects: after any sequence of PKCS#11 calls (token
// and session objects created, copied, changed and destroyed, key pairs
// generated, logins, PIN changes, tokens made on the free slot), a restart
// yields exactly the token objects the server held, and no session
// object. TEP_PROP_SEED replays a run; the seed is logged.
func TestRestartKeepsTokenObjects(t *testing.T) {
	seed := time.Now().UnixNano()
	if v := os.Getenv("TEP_PROP_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseInt(v, 10, 64); err != nil {
			t.Fatalf("TEP_PROP_SEED: %v", err)
		}
	}
	for name, spec := range map[string]func(*testing.T) string{
		"sim":   func(*testing.T) string { return "sim" },
		"swtpm": func(t *testing.T) string { return tpmtest.StartSWTPM(t) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Logf("seed %d (TEP_PROP_SEED=%d replays it)", seed, seed)
			r := newRig(t, spec(t))
			w := &walk{t: t, rng: rand.New(rand.NewSource(seed)), r: r, userPIN: userPIN, soPIN: soPIN, done: map[string]int{}}
			w.c = r.dial()
			w.reopen()
			for i := 0; i < propSteps; i++ {
				w.step()
				if w.rng.Intn(25) == 0 { // a restart in the middle too
					w.restart()
				}
			}
			w.restart()
			t.Logf("calls that succeeded: %v", w.done)
			if w.done["create token object"]+w.done["copy"] == 0 || w.done["restart"] < 2 {
				t.Errorf("the walk made no token object or no restart: it tested nothing (%v)", w.done)
			}
		})
	}
}

// walk is one random sequence of calls on slot 1, with what the test must
// know to go on: the PINs in force and the handles it was given.
type walk struct {
	t              *testing.T
	rng            *rand.Rand
	r              *rig
	c              *p11client.Client
	s              uint64   // a read/write session on slot 1
	handles        []uint64 // every handle returned; some are gone
	user           uint64   // CKU_USER or CKU_SO, when in
	in             bool     // logged in
	userPIN, soPIN string
	done           map[string]int
}

func (w *walk) ok(what string, err error) {
	if err == nil {
		w.done[what]++
	}
}

func (w *walk) reopen() {
	s, err := w.c.OpenSession(1, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err != nil {
		w.t.Fatal(err)
	}
	w.s, w.in = s, false
}

func (w *walk) pick() uint64 {
	if len(w.handles) == 0 {
		return 0
	}
	return w.handles[w.rng.Intn(len(w.handles))]
}

func (w *walk) label() []byte { return fmt.Appendf(nil, "obj-%d", w.rng.Intn(1000)) }

func (w *walk) step() {
	c, s, rng := w.c, w.s, w.rng
	switch rng.Intn(12) {
	case 0, 1:
		token := rng.Intn(2) == 0
		tmpl := dataTemplate(string(w.label()), token, rng.Intn(2) == 0)
		h, err := c.CreateObject(s, tmpl)
		if err == nil {
			w.handles = append(w.handles, h)
		}
		w.ok(map[bool]string{true: "create token object", false: "create session object"}[token], err)
	case 2:
		w.ok("destroy", c.DestroyObject(s, w.pick()))
	case 3:
		h, err := c.CopyObject(s, w.pick(), []p11.Attribute{attr(p11.CKA_TOKEN, p11.Bool(rng.Intn(2) == 0)),
			attr(p11.CKA_PRIVATE, p11.Bool(rng.Intn(2) == 0)), attr(p11.CKA_LABEL, w.label())})
		if err == nil {
			w.handles = append(w.handles, h)
		}
		w.ok("copy", err)
	case 4:
		w.ok("set attribute", c.SetAttributeValue(s, w.pick(), []p11.Attribute{attr(p11.CKA_LABEL, w.label())}))
	case 5:
		token := p11.Bool(rng.Intn(2) == 0)
		pub, priv, err := c.GenerateKeyPair(s, p11.Mechanism{Type: p11.CKM_EC_KEY_PAIR_GEN},
			[]p11.Attribute{attr(p11.CKA_EC_PARAMS, oidP256), attr(p11.CKA_TOKEN, token), attr(p11.CKA_LABEL, w.label())},
			[]p11.Attribute{attr(p11.CKA_TOKEN, token), attr(p11.CKA_LABEL, w.label()), attr(p11.CKA_ID, w.label())})
		if err == nil {
			w.handles = append(w.handles, pub, priv)
		}
		w.ok("generate key pair", err)
	case 6:
		w.login(p11.CKU_USER, w.userPIN)
	case 7:
		w.login(p11.CKU_SO, w.soPIN)
	case 8:
		w.setPIN()
	case 9:
		if w.in && w.user == p11.CKU_SO {
			pin := fmt.Sprintf("u%04d", rng.Intn(10000))
			if err := c.InitPIN(s, []byte(pin)); err == nil {
				w.userPIN = pin
			}
			w.done["InitPIN"]++
		}
	case 10:
		if slots, _ := c.SlotList(true); len(slots) < 4 {
			w.ok("InitToken on the free slot", c.InitToken(slots[len(slots)-1], []byte("other-so"), "other"))
		}
	case 11:
		// Closing the last session drops its objects and the login.
		w.ok("close session", c.CloseSession(s))
		w.reopen()
	}
}

func (w *walk) login(user uint64, pin string) {
	if w.in {
		w.ok("logout", w.c.Logout(w.s))
		w.in = false
		return
	}
	if err := w.c.Login(w.s, user, []byte(pin)); err != nil {
		w.t.Fatalf("login (%d) with the PIN in force: %v", user, err)
	}
	w.user, w.in = user, true
	w.done["login"]++
}

// setPIN changes the SO's PIN when the SO is logged in, else the user's.
func (w *walk) setPIN() {
	pin := fmt.Sprintf("p%04d", w.rng.Intn(10000))
	cur := &w.userPIN
	if w.in && w.user == p11.CKU_SO {
		cur = &w.soPIN
	}
	if err := w.c.SetPIN(w.s, []byte(*cur), []byte(pin)); err != nil {
		w.t.Fatalf("SetPIN from the PIN in force: %v", err)
	}
	*cur = pin
	w.done["SetPIN"]++
}

// restart checks that a restart keeps exactly the token objects.
func (w *walk) restart() {
	t := w.t
	t.Helper()
	before := tokenObjects(w.r.srv)
	w.r.restart()
	w.c, w.handles = w.r.dial(), nil
	w.reopen()
	w.login(p11.CKU_USER, w.userPIN) // opens the private ones
	sameObjects(t, fmt.Sprintf("after restart %d", w.done["restart"]+1), tokenObjects(w.r.srv), before)
	w.r.srv.mu.Lock()
	for _, o := range w.r.srv.objects {
		if o.id == 0 {
			t.Errorf("a session object (%q) survived the restart", o.attrs[p11.CKA_LABEL])
		}
	}
	w.r.srv.mu.Unlock()
	// The client sees them all: handles for the walk to go on with.
	if err := w.c.FindObjectsInit(w.s, nil); err != nil {
		t.Fatal(err)
	}
	w.handles, _ = w.c.FindObjects(w.s, 1<<20)
	w.c.FindObjectsFinal(w.s)
	if len(w.handles) != len(before) {
		t.Errorf("after a restart the user finds %d objects, want %d", len(w.handles), len(before))
	}
	w.done["restart"]++
}
