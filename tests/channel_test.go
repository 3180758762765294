package tests

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tep.dev/tep/channel"
	"tep.dev/tep/link"
	"tep.dev/tep/p11"
	"tep.dev/tep/wire"
)

// relay is the line between a guest's tty and tepd, held by an attacker:
// it passes every frame on, records the victim's requests, and can replay
// one or plant forged replies ahead of the real ones.
type relay struct {
	path        string // the tty the victim opens
	guest, host *link.Conn
	hostMu      sync.Mutex // serialises sends to tepd
	forge       atomic.Bool

	mu       sync.Mutex
	pingID   uint64 // the client id of the victim's first frame, its ping
	victim   uint64
	requests []wire.Message // the victim's, in order, bodies copied
}

// marker is what a forged C_GenerateRandom answer carries.
var marker = bytes.Repeat([]byte{'A'}, 32)

func startRelay(t *testing.T, d *tepd) *relay {
	t.Helper()
	p, err := link.NewPTY(filepath.Join(t.TempDir(), "ttyS4"))
	if err != nil {
		t.Fatal(err)
	}
	sock, _, err := link.Dial("unix:"+d.socket(), 0)
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{path: p.Path, guest: link.NewConn(p.Master, link.Config{}), host: link.NewConn(sock, link.Config{})}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r.forward() }()
	go func() { defer wg.Done(); r.replies() }()
	t.Cleanup(func() { sock.Close(); p.Close(); wg.Wait() })
	return r
}

// forward passes the guest's frames to tepd, recording the victim's.
func (r *relay) forward() {
	for {
		m, err := r.guest.Receive(time.Time{})
		if err != nil {
			return
		}
		r.mu.Lock()
		if r.pingID == 0 {
			r.pingID = m.Client
		}
		if r.victim == 0 && m.Func == wire.FuncHandshake {
			r.victim = m.Client // its ping went out under another id
		}
		if m.Client == r.victim {
			c := *m
			c.Body = bytes.Clone(m.Body)
			r.requests = append(r.requests, c)
		}
		r.mu.Unlock()
		if r.send(m) != nil {
			return
		}
	}
}

func (r *relay) send(m *wire.Message) error {
	r.hostMu.Lock()
	defer r.hostMu.Unlock()
	return r.host.Send(m)
}

// replies passes tepd's frames to the guest, forged ones first when asked.
func (r *relay) replies() {
	forged, _ := p11.Marshal(&p11.DataResp{Data: marker})
	for {
		m, err := r.host.Receive(time.Time{})
		if err != nil {
			return
		}
		if r.forge.Load() && m.Type == wire.Reply {
			plain := *m
			plain.Func, plain.Body = p11.FnGenerateRandom, forged
			sealed := *m
			sealed.Body = channel.AppendBin(nil, bytes.Repeat([]byte{'A'}, 50))
			r.guest.Send(&plain)
			r.guest.Send(&sealed)
		}
		if r.guest.Send(m) != nil {
			return
		}
	}
}

// captured returns the victim's id and requests so far.
func (r *relay) captured() (uint64, []wire.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.victim, append([]wire.Message(nil), r.requests...)
}

// readLine reads one line of a client's stdout, failing the test after a
// while.
func readLine(t *testing.T, rd *bufio.Reader) string {
	t.Helper()
	done := make(chan string, 1)
	go func() { l, _ := rd.ReadString('\n'); done <- strings.TrimSpace(l) }()
	select {
	case l := <-done:
		return l
	case <-time.After(time.Minute):
		t.Fatal("no line from the client within a minute")
		return ""
	}
}

// TestHijack: a victim process logs in through a line an attacker holds.
// Another process, on another tty, uses the victim's id (read off the
// line) to try a handshake, calls in clear and sealed calls under its own
// keys: none is answered. The victim's captured C_Logout, replayed, has no
// effect, and replies forged on the victim's line are never accepted: the
// victim ends logged in, its random bytes its own.
func TestHijack(t *testing.T) {
	d := startTepd(t, "sim")
	r := startRelay(t, d)
	v := exec.Command(bin.client, bin.module, "victim")
	v.Env = append(os.Environ(), "TEC_COMM_PORT="+r.path, "TEP_SERVER_KEY="+d.key)
	v.Stderr = os.Stderr
	stdin, _ := v.StdinPipe()
	stdout, _ := v.StdoutPipe()
	if err := v.Start(); err != nil {
		t.Fatal(err)
	}
	defer v.Wait()
	defer stdin.Close()
	out := bufio.NewReader(stdout)
	session, ok := strings.CutPrefix(readLine(t, out), "session=")
	if !ok {
		t.Fatal("the victim did not log in")
	}
	id, _ := r.captured()
	r.mu.Lock()
	if r.pingID == id {
		t.Errorf("the victim pinged under its own id %#x: a reader of the line could race its handshake", id)
	}
	r.mu.Unlock()

	// (a) Another process, another tty, the victim's id.
	a := exec.Command(os.Args[0])
	a.Env = append(os.Environ(), fmt.Sprintf("TEP_E2E_HIJACK=%s %d %s", filepath.Join(d.state, "run", "ttyS5"), id, session))
	a.Stderr = os.Stderr
	got, err := withTimeout(a, time.Minute)
	if err != nil {
		t.Fatalf("attacker: %v\n%s", err, got)
	}
	res := results(got)
	for _, k := range []string{"handshake as victim", "logout in clear", "session info in clear", "logout sealed under own keys"} {
		if res[k] != "none" {
			t.Errorf("attacker's %s: %q, want no answer", k, res[k])
		}
	}
	if res["victim's session on own channel"] != "0xb3" {
		t.Errorf("attacker's C_GetSessionInfo of the victim's session on its own channel = %q, want CKR_SESSION_HANDLE_INVALID (0xb3)", res["victim's session on own channel"])
	}

	// (c) The victim logs out and in again; the relay replays the logout.
	_, before := r.captured()
	stdin.Write([]byte("go\n"))
	for _, want := range []string{"Logout=0x0", "Login=0x0"} {
		if l := readLine(t, out); l != want {
			t.Fatalf("victim: %q, want %q", l, want)
		}
	}
	_, after := r.captured()
	var logout *wire.Message
	for i := len(before); i < len(after); i++ {
		if after[i].Type == wire.Invocation { // not a keep-alive
			logout = &after[i]
			break
		}
	}
	if logout == nil {
		t.Fatal("the relay saw no C_Logout")
	}
	if err := r.send(logout); err != nil {
		t.Fatal(err)
	}

	// (b) Forged replies ahead of every real one.
	r.forge.Store(true)
	stdin.Write([]byte("go\n"))
	var rest []string
	for {
		l := readLine(t, out)
		rest = append(rest, l)
		if strings.HasPrefix(l, "Finalize=") || strings.HasPrefix(l, "GenerateRandom=") || l == "" {
			break
		}
	}
	if len(rest) != 5 {
		t.Fatalf("victim under fire said %q", rest)
	}
	verifyP256(t, rest[0], rest[1])
	want := []string{"GetSessionInfo=0x0", "state=3", "Finalize=0x0"}
	if strings.Join(rest[2:], "\n") != strings.Join(want, "\n") {
		t.Errorf("victim under fire said %q, want %q: it must stay logged in and accept no forged random bytes", rest, want)
	}
	d.stop()
	log := d.log.String()
	for _, w := range []string{"refused_handshakes=1", "replayed=1", "plain=2"} {
		if !strings.Contains(log, w) {
			t.Errorf("tepd's log does not count %s:\n%s", w, log)
		}
	}
}

// verifyP256 checks the victim's signature of 32 bytes of 0x5a: lines
// "ecpoint=HEX" (a DER OCTET STRING) and "signature=HEX" (r||s).
func verifyP256(t *testing.T, pointLine, sigLine string) {
	t.Helper()
	pointHex, ok1 := strings.CutPrefix(pointLine, "ecpoint=")
	sigHex, ok2 := strings.CutPrefix(sigLine, "signature=")
	der, err1 := hex.DecodeString(pointHex)
	sig, err2 := hex.DecodeString(sigHex)
	var point []byte
	_, err3 := asn1.Unmarshal(der, &point)
	if !ok1 || !ok2 || err1 != nil || err2 != nil || err3 != nil || len(sig) != 64 {
		t.Fatalf("victim's signature lines %q, %q do not parse", pointLine, sigLine)
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	if err != nil {
		t.Fatalf("victim's EC point: %v", err)
	}
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(pub, bytes.Repeat([]byte{0x5a}, 32), r, s) {
		t.Error("the victim's signature, made under forged replies, does not verify")
	}
}

// hijack is the attacker process of TestHijack: target is "PORT ID
// SESSION". It prints "what=none" for each attempt that got no answer.
func hijack(target string) int {
	f := strings.Fields(target)
	if len(f) != 3 {
		return 2
	}
	id, _ := strconv.ParseUint(f[1], 10, 64)
	session, _ := strconv.ParseUint(f[2], 10, 64)
	tty, err := link.OpenTTY(f[0], 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer tty.Close()
	a := &attacker{conn: link.NewConn(tty, link.Config{}), w: os.Stdout}
	h, msg1, _ := channel.StartClient(id, nil, nil)
	reply := a.exchange(wire.Message{Type: wire.Invocation, Func: wire.FuncHandshake, Client: id, Seq: 1, Body: channel.AppendBin(nil, msg1)})
	a.say("handshake as victim", reply)
	if reply != nil {
		if msg2, ok := channel.Bin(reply.Body); ok {
			if _, _, _, err := h.Finish(msg2); err == nil {
				fmt.Println("handshake as victim finished")
			}
		}
	}
	a.say("logout in clear", a.exchange(wire.Message{Type: wire.Invocation, Func: p11.FnLogout, Client: id, Seq: 50, Body: marshal(&p11.SessionReq{Session: session})}))
	a.say("session info in clear", a.exchange(wire.Message{Type: wire.Invocation, Func: p11.FnGetSessionInfo, Client: id, Seq: 51, Body: marshal(&p11.SessionReq{Session: session})}))
	// A channel of its own, then the victim's id on calls sealed under it.
	own := id ^ 0xffff
	h, msg1, _ = channel.StartClient(own, nil, nil)
	reply = a.exchange(wire.Message{Type: wire.Invocation, Func: wire.FuncHandshake, Client: own, Seq: 1, Body: channel.AppendBin(nil, msg1)})
	if reply == nil {
		fmt.Println("own handshake=none")
		return 1
	}
	msg2, _ := channel.Bin(reply.Body)
	keys, _, _, err := h.Finish(msg2)
	if err != nil {
		fmt.Println("own handshake failed:", err)
		return 1
	}
	a.say("logout sealed under own keys", a.exchange(a.seal(keys, id, 1000, p11.FnLogout, &p11.SessionReq{Session: session})))
	// On its own channel, the victim's session handle is nobody's.
	m := a.seal(keys, own, 2, p11.FnGetSessionInfo, &p11.SessionReq{Session: session})
	reply = a.exchange(m)
	if reply == nil {
		fmt.Println("victim's session on own channel=none")
		return 0
	}
	_, body, err := keys.Open(reply.AppendHeader(nil), 2, reply.Body)
	var rv p11.RVResp
	if err != nil || p11.Unmarshal(body, &rv) != nil {
		fmt.Println("victim's session on own channel=undecodable")
		return 0
	}
	fmt.Printf("victim's session on own channel=0x%x\n", uint64(rv.RV))
	return 0
}

type attacker struct {
	conn *link.Conn
	w    io.Writer
}

func (a *attacker) say(what string, reply *wire.Message) {
	if reply == nil {
		fmt.Fprintf(a.w, "%s=none\n", what)
		return
	}
	fmt.Fprintf(a.w, "%s=answered func %#x\n", what, reply.Func)
}

// exchange sends m and waits a while for a reply echoing its id and seq.
func (a *attacker) exchange(m wire.Message) *wire.Message {
	m.Version = wire.Version
	if err := a.conn.Send(&m); err != nil {
		return nil
	}
	deadline := time.Now().Add(500 * time.Millisecond)
	for {
		got, err := a.conn.Receive(deadline)
		if errors.Is(err, link.ErrTimeout) || err != nil {
			return nil
		}
		if got.Type == wire.Reply && got.Client == m.Client && got.Seq == m.Seq {
			c := *got
			c.Body = bytes.Clone(got.Body)
			return &c
		}
	}
}

func (a *attacker) seal(keys *channel.Keys, id, n uint64, fn uint16, args any) wire.Message {
	m := wire.Message{Version: wire.Version, Type: wire.Invocation, Func: wire.FuncSealed, Client: id, Seq: uint32(n)}
	m.Body = keys.Seal(nil, m.AppendHeader(nil), n, fn, marshal(args))
	return m
}

func marshal(v any) []byte {
	b, err := p11.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// TestPinnedServerKey: TEP_SERVER_KEY set to another key makes
// C_Initialize fail with CKR_FUNCTION_FAILED and a message naming both
// keys; the right key, as a value or in a file, works.
func TestPinnedServerKey(t *testing.T) {
	d := startTepd(t, "sim")
	if d.key == "" {
		t.Fatal("tepd init printed no TEP_SERVER_KEY")
	}
	other, _ := channel.GenerateKey(nil)
	keyFile := filepath.Join(t.TempDir(), "server.key")
	os.WriteFile(keyFile, []byte(d.key+"\n"), 0o644)
	for _, tc := range []struct {
		name, value, rv, log string
	}{
		{"another key", other.Public().String(), "0x6", "not the one TEP_SERVER_KEY pins"},
		{"the right key", d.key, "0x0", ""},
		{"a file with the right key", keyFile, "0x0", ""},
		{"unpinned", "", "0x0", "not pinned"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logFile := filepath.Join(t.TempDir(), "p11.log")
			cmd := d.clientCmd("once")
			cmd.Env = d.env("TEP_SERVER_KEY="+tc.value, "TEP_LOG="+logFile)
			out, err := withTimeout(cmd, time.Minute)
			if err != nil {
				t.Fatalf("client: %v\n%s", err, out)
			}
			if got := results(out)["Initialize"]; got != tc.rv {
				t.Errorf("C_Initialize = %s, want %s", got, tc.rv)
			}
			log, _ := os.ReadFile(logFile)
			if tc.log != "" && !strings.Contains(string(log), tc.log) {
				t.Errorf("log %q does not say %q", log, tc.log)
			}
			if tc.rv == "0x6" && !strings.Contains(string(log), other.Public().Fingerprint()) {
				t.Errorf("log %q does not name the pinned key's fingerprint", log)
			}
		})
	}
}
