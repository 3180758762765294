package tests

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"tep.dev/tep/channel"
	"tep.dev/tep/link"
	"tep.dev/tep/p11"
	"tep.dev/tep/wire"
)

// maxRequest is the provider's bound on one call's arguments together
// (provider/limits.go, README "Limits"): 32 MiB less 64 KiB.
const maxRequest = 32<<20 - 64<<10

// edgeCase is one run of testdata/edgehost.c: its arguments, the lines it
// must print, and the server it talks to (tepd, or a rogue server that
// answers C_Sign with out and the length announced).
type edgeCase struct {
	name  string
	args  []string
	want  map[string]string
	rogue *rogueSign
}

// TestEdge runs each case of the C edge in its own process, so that a
// crash of the host fails that case and no other: arguments that must not
// be touched, counts and lengths past the limits, lengths of 2^32 and
// more, capacities past a signed integer, and replies that do not fit.
func TestEdge(t *testing.T) {
	host := buildEdgeHost(t)
	d := startTepd(t, "sim")
	over := strconv.Itoa(maxRequest + 1)
	for _, tc := range []edgeCase{
		{name: "before-init", args: []string{"before-init"}, want: beforeInit()},
		{name: "count-find", args: []string{"count-find"}, want: map[string]string{"C_FindObjectsInit": "0x7"}},
		{name: "count-create", args: []string{"count-create"}, want: map[string]string{"C_CreateObject": "0x7"}},
		{name: "count-getattr", args: []string{"count-getattr"}, want: map[string]string{"C_GetAttributeValue": "0x7"}},
		{name: "digest-4g", args: []string{"digest", strconv.Itoa(1<<32 + 4)}, want: map[string]string{"C_Digest": "0x21"}},
		{name: "digest-past-limit", args: []string{"digest", strconv.Itoa(1<<30 + 1)}, want: map[string]string{"C_Digest": "0x21"}},
		{name: "digest-long", args: []string{"digest", strconv.Itoa(64 << 20)}, want: map[string]string{
			"C_Digest": "0x0", "digest": zerosDigest(64 << 20)}},
		{name: "verify-4g", args: []string{"verify-4g"}, want: map[string]string{"C_Verify abcd": "0x0", "C_Verify": "0x21"}},
		{name: "slotlist-max", args: []string{"slotlist-max"}, want: map[string]string{"C_GetSlotList": "0x0", "count": "1"}}, // the token alone: no free slot by default,
		{name: "find-max", args: []string{"find-max"}, want: map[string]string{"C_FindObjects": "0x0", "found": "1", "same": "1"}},
		{name: "capacity", args: []string{"capacity"}, want: map[string]string{"C_Digest": "0x0", "length": "32", "digest": "1"}},
		{name: "random-huge", args: []string{"random-huge"}, want: map[string]string{"C_GenerateRandom": "0x7"}},
		{name: "update-at-limit", args: []string{"update", strconv.Itoa(maxRequest)}, want: map[string]string{
			"C_DigestUpdate": "0x0", "C_SignUpdate": "0x0", "C_Verify": "0xc0"}},
		{name: "update-over-limit", args: []string{"update", over}, want: map[string]string{
			"C_DigestUpdate": "0x7", "C_SignUpdate": "0x21", "C_Verify": "0x21"}},
		{name: "update-past-message", args: []string{"update", strconv.Itoa(33 << 20)}, want: map[string]string{
			"C_DigestUpdate": "0x7", "C_SignUpdate": "0x21", "C_Verify": "0x21"}},
		{name: "crypt-over-limit", args: []string{"crypt", strconv.Itoa(maxRequest + 16)}, want: map[string]string{
			"C_Encrypt": "0x21", "C_Decrypt": "0x41"}},
		{name: "session-first", args: []string{"session-first"}, want: map[string]string{
			"C_DigestInit": "0xb3", "C_EncryptInit": "0xb3", "C_Digest": "0xb3", "C_DigestInit valid": "0x7"}},
		{name: "arguments", args: []string{"arguments"}, want: map[string]string{
			"C_CreateObject value": "0x13", "C_CreateObject values": "0x13", "C_DigestInit": "0x71",
			"C_SeedRandom": "0x7", "C_SetPIN": "0xa2", "C_InitPIN": "0xa2", "C_InitToken": "0xa2", "C_Login": "0x7",
			"C_GetSessionInfo": "0xb3", "C_GetSessionInfo valid": "0x0"}},
		{name: "output-past-capacity", args: []string{"output", "8"}, rogue: &rogueSign{out: 64, announced: 64},
			want: map[string]string{"C_Sign": "0x30", "canary": "1"}},
		{name: "output-past-announced", args: []string{"output", "128"}, rogue: &rogueSign{out: 64, announced: 32},
			want: map[string]string{"C_Sign": "0x30", "canary": "1"}},
		{name: "output-fits", args: []string{"output", "128"}, rogue: &rogueSign{out: 64, announced: 64},
			want: map[string]string{"C_Sign": "0x0", "length": "64", "canary": "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := d.env()
			if tc.rogue != nil {
				env = append(os.Environ(), "TEC_COMM_PORT=unix:"+tc.rogue.serve(t))
			}
			runEdgeCase(t, host, env, tc)
		})
	}
}

// runEdgeCase runs the host once and checks how it ended and what it said.
func runEdgeCase(t *testing.T, host string, env []string, tc edgeCase) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, host, append([]string{bin.module}, tc.args...)...)
	cmd.Env = env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("edgehost %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(tc.args, " "), err, out, head(stderr.String(), 1500))
	}
	got := results(out)
	if got["end"] != "1" {
		t.Errorf("edgehost %s did not reach its end:\n%s", tc.name, out)
	}
	for k, v := range tc.want {
		if got[k] != v {
			t.Errorf("%s = %s, want %s", k, got[k], v)
		}
	}
	if strings.Contains(stderr.String(), "panic") {
		t.Errorf("the module panicked:\n%s", stderr.String())
	}
}

// zerosDigest is the SHA-256 of n bytes: "abcd" and zeros, what the
// digest case of edgehost digests.
func zerosDigest(n int) string {
	b := make([]byte, n)
	copy(b, "abcd")
	d := sha256.Sum256(b)
	return hex.EncodeToString(d[:])
}

// head is s cut to n bytes: a Go crash's stack is long.
func head(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// beforeInit is what the before-init case must print: every function
// CKR_CRYPTOKI_NOT_INITIALIZED.
func beforeInit() map[string]string {
	want := map[string]string{}
	for _, fn := range []string{
		"C_EncryptInit", "C_DecryptInit", "C_GetInfo", "C_Finalize", "C_GetSlotList", "C_GetSlotInfo",
		"C_GetTokenInfo", "C_GetMechanismList", "C_GetMechanismInfo", "C_InitToken", "C_InitPIN", "C_SetPIN",
		"C_OpenSession", "C_GetSessionInfo", "C_Login", "C_CreateObject", "C_CopyObject", "C_GetObjectSize",
		"C_GetAttributeValue", "C_SetAttributeValue", "C_FindObjectsInit", "C_FindObjects", "C_Encrypt",
		"C_EncryptUpdate", "C_EncryptFinal", "C_Decrypt", "C_DigestInit", "C_Digest", "C_DigestUpdate",
		"C_DigestFinal", "C_SignInit", "C_Sign", "C_SignUpdate", "C_SignFinal", "C_VerifyInit", "C_Verify",
		"C_VerifyUpdate", "C_VerifyFinal", "C_GenerateKey", "C_GenerateKeyPair", "C_WrapKey", "C_UnwrapKey",
		"C_SeedRandom", "C_GenerateRandom", "C_WaitForSlotEvent",
	} {
		want[fn] = "0x190"
	}
	return want
}

var edgeHost struct {
	once sync.Once
	path string
	err  error
}

// buildEdgeHost compiles testdata/edgehost.c once for the package.
func buildEdgeHost(t *testing.T) string {
	t.Helper()
	edgeHost.once.Do(func() {
		edgeHost.path = filepath.Join(bin.dir, "edgehost")
		out, err := exec.Command("gcc", "-Wall", "-Wextra", "-Werror", "-I../c_headers", "-o", edgeHost.path, "testdata/edgehost.c", "-ldl").CombinedOutput()
		if err != nil {
			edgeHost.err = errors.New(string(out))
		}
	})
	if edgeHost.err != nil {
		t.Fatalf("building edgehost: %v", edgeHost.err)
	}
	return edgeHost.path
}

// rogueSign is a server that breaks the protocol's promise about outputs:
// it answers C_Sign with CKR_OK, out bytes and the length announced,
// whatever the capacity the client sent. No real server misbehaves on
// purpose, so the test needs one that does. It speaks the secure channel
// like tepd, so that the module reaches the reply it must refuse.
type rogueSign struct {
	out, announced int

	mu   sync.Mutex
	key  *channel.StaticKey
	keys map[uint64]*channel.Keys
}

// serve listens on a unix socket in a temporary directory until the test
// ends and returns its path.
func (r *rogueSign) serve(t *testing.T) string {
	t.Helper()
	key, err := channel.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	r.key, r.keys = key, map[uint64]*channel.Keys{}
	path := filepath.Join(t.TempDir(), "rogue.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		l.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.AcceptUnix()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				link.Serve(ctx, link.NewConn(c, link.Config{}), r.answer)
			}()
		}
	}()
	return path
}

// answer is the rogue server's handler: a Noise handshake, then sealed
// answers.
func (r *rogueSign) answer(req, reply *wire.Message) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	var hdr [32]byte
	switch req.Func {
	case wire.FuncHandshake:
		msg1, ok := channel.Bin(req.Body)
		if !ok {
			return false
		}
		msg2, keys, err := channel.Accept(r.key, req.Client, msg1, nil, nil)
		if err != nil {
			return false
		}
		r.keys[req.Client] = keys
		reply.Body = channel.AppendBin(nil, msg2)
		return true
	case wire.FuncSealed:
		keys := r.keys[req.Client]
		if keys == nil {
			return false
		}
		n, fn, _, err := keys.OpenNext(req.AppendHeader(hdr[:0]), req.Seq, req.Body)
		if err != nil {
			return false
		}
		reply.Body = keys.Seal(nil, reply.AppendHeader(hdr[:0]), n, fn, r.result(fn))
		return true
	}
	return false
}

// result is the rogue server's answer to function fn.
func (r *rogueSign) result(fn uint16) []byte {
	var resp any = &p11.RVResp{}
	switch fn {
	case p11.FnInitialize:
		resp = &p11.HelloResp{LeaseMs: 60_000}
	case p11.FnOpenSession:
		resp = &p11.OpenSessionResp{Session: 1}
	case p11.FnSign:
		resp = &p11.OutResp{Out: make([]byte, r.out), Len: uint64(r.announced)}
	}
	b, err := p11.Marshal(resp)
	if err != nil {
		panic(err)
	}
	return b
}
