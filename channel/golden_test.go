package channel

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"tep.dev/tep/wire"
)

// countingReader yields 0x00, 0x01, … : fixed "random" keys, so the
// examples of docs/wire.md come out the same on every run.
type countingReader struct{ next byte }

func (r *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.next
		r.next++
	}
	return len(p), nil
}

// goldenExchange is docs/wire.md's example: client 0x1122334455667788
// runs its handshake as call 2 (after a ping), then calls C_GenerateRandom
// (function 65) for 32 bytes on session 1 as call 3, sealed, and gets the
// bytes 0x00…0x1f back, sealed.
func goldenExchange(t *testing.T) map[string][]byte {
	t.Helper()
	key, err := GenerateKey(&countingReader{next: 0x80})
	if err != nil {
		t.Fatal(err)
	}
	const id = 0x1122334455667788
	h, msg1, err := StartClient(id, nil, &countingReader{next: 0x20})
	if err != nil {
		t.Fatal(err)
	}
	msg2, server, err := Accept(key, id, msg1, nil, &countingReader{next: 0x40})
	if err != nil {
		t.Fatal(err)
	}
	client, _, _, err := h.Finish(msg2)
	if err != nil {
		t.Fatal(err)
	}
	hs := wire.Message{Version: wire.Version, Type: wire.Invocation, Func: wire.FuncHandshake, Client: id, Seq: 2, Body: AppendBin(nil, msg1)}
	hsReply := hs
	hsReply.Type, hsReply.Body = wire.Reply, AppendBin(nil, msg2)

	req := wire.Message{Version: wire.Version, Type: wire.Invocation, Func: wire.FuncSealed, Client: id, Seq: 3}
	req.Body = client.Seal(nil, req.AppendHeader(nil), 3, 65, []byte{0x92, 0x01, 0x20})
	result := append([]byte{0x92, 0x00, 0xc4, 0x20}, make([]byte, 32)...)
	for i := range 32 {
		result[4+i] = byte(i)
	}
	reply := req
	reply.Type = wire.Reply
	reply.Body = server.Seal(nil, reply.AppendHeader(nil), 3, 65, result)

	// The example must be what the code does: the server opens the call,
	// the client the reply.
	raw := bytes.Clone(req.Body)
	if _, fn, body, err := server.OpenNext(req.AppendHeader(nil), 3, raw); err != nil || fn != 65 || !bytes.Equal(body, []byte{0x92, 0x01, 0x20}) {
		t.Fatalf("server opens the example call: fn %d, % x, %v", fn, body, err)
	}
	raw = bytes.Clone(reply.Body)
	if fn, body, err := client.Open(reply.AppendHeader(nil), 3, raw); err != nil || fn != 65 || !bytes.Equal(body, result) {
		t.Fatalf("client opens the example reply: fn %d, % x, %v", fn, body, err)
	}
	return map[string][]byte{
		"handshake-request.frame": wire.AppendFrames(nil, hs.Append(nil)),
		"handshake-reply.frame":   wire.AppendFrames(nil, hsReply.Append(nil)),
		"sealed-request.frame":    wire.AppendFrames(nil, req.Append(nil)),
		"sealed-reply.frame":      wire.AppendFrames(nil, reply.Append(nil)),
	}
}

// TestGoldenExchange keeps docs/wire.md's hex examples true; -update
// rewrites them.
func TestGoldenExchange(t *testing.T) {
	for name, got := range goldenExchange(t) {
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s changed:\n got % x\nwant % x", name, got, want)
		}
	}
}
