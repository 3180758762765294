package tests

import (
	"bytes"
	"crypto/sha256"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tep.dev/tep/link"
)

func TestPkcs11Tool(t *testing.T) {
	d := startTepdServing(t, "sim", []string{"--allow-token-init"})
	must := func(args ...string) string {
		t.Helper()
		out, err := d.tool(args...)
		if err != nil {
			t.Fatalf("pkcs11-tool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	out := must("--list-slots")
	if !strings.Contains(out, "TEP Token") || !strings.Contains(out, "Slot 1 (0x2)") || !strings.Contains(out, "uninitialized") {
		t.Fatalf("--list-slots: want the token in slot 1 and a free slot 2:\n%s", out)
	}
	if out := must("--show-info"); !strings.Contains(out, "Cryptoki version 2.40") {
		t.Errorf("--show-info:\n%s", out)
	}
	if out := must("--list-mechanisms"); !strings.Contains(out, "SHA256, digest") {
		t.Errorf("--list-mechanisms:\n%s", out)
	}
	must("--slot", "2", "--init-token", "--label", "second", "--so-pin", "so-secret")
	must("--slot", "2", "--login", "--login-type", "so", "--so-pin", "so-secret", "--init-pin", "--new-pin", "1111")
	must("--slot", "2", "--login", "--pin", "1111", "--change-pin", "--new-pin", "2222")
	if out := must("--list-slots"); !strings.Contains(out, "second") || !strings.Contains(out, "Slot 2 (0x3)") {
		t.Errorf("after --init-token, want token \"second\" and a new free slot:\n%s", out)
	}
	out = must("--slot", "2", "--login", "--pin", "2222", "--generate-random", "16")
	if len(out) < 16 {
		t.Errorf("--generate-random 16 printed %d bytes", len(out))
	}
	out, err := d.tool("--slot", "2", "--login", "--pin", "1111", "--generate-random", "16")
	if err == nil || !strings.Contains(out, "CKR_PIN_INCORRECT") {
		t.Errorf("login with the old PIN: %v\n%s", err, out)
	}
	// With TEP_CPUPROFILE the module profiles itself from C_Initialize to
	// C_Finalize.
	prof := filepath.Join(t.TempDir(), "cpu.prof")
	cmd := exec.Command("pkcs11-tool", "--module", bin.module, "--hash", "-m", "SHA256")
	cmd.Env = append(d.env(), "TEP_CPUPROFILE="+prof)
	cmd.Stdin = strings.NewReader("This is my data object")
	got, err := cmd.Output()
	want := sha256.Sum256([]byte("This is my data object"))
	if err != nil || string(got) != string(want[:]) {
		t.Errorf("--hash = %x, %v, want %x", got, err, want)
	}
	if b, err := os.ReadFile(prof); err != nil || !bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
		t.Errorf("TEP_CPUPROFILE: %d bytes, %v; want a gzipped pprof profile", len(b), err)
	}
}

// TestEdgeCases calls every implemented function with NULL pointers,
// invalid handles and short buffers through the C ABI.
func TestEdgeCases(t *testing.T) {
	d := startTepdServing(t, "sim", []string{"--allow-token-init"}) // the edge cases use the free slot 2
	out, err := withTimeout(d.clientCmd("edge"), time.Minute)
	if err != nil {
		t.Fatalf("edge client: %v\n%s", err, out)
	}
	got := results(out)
	want := map[string]string{
		"GetInfo before init": "0x190", "GetSlotList before init": "0x190", "Finalize before init": "0x190",
		"Initialize reserved": "0x7", "Initialize no threads": "0x0", "Finalize after no threads": "0x0", "Initialize": "0x0",
		"Initialize again": "0x191", "Finalize reserved": "0x7",
		"GetInfo NULL": "0x7", "GetSlotList NULL count": "0x7", "GetSlotList count": "0x0", "slots": "2",
		"GetSlotList short": "0x150", "slots needed": "2",
		"GetSlotInfo NULL": "0x7", "GetSlotInfo bad slot": "0x3",
		"GetTokenInfo NULL": "0x7", "GetTokenInfo bad slot": "0x3",
		"GetMechanismList NULL count": "0x7", "GetMechanismList short": "0x150",
		"GetMechanismInfo NULL": "0x7", "GetMechanismInfo bad mechanism": "0x70",
		"InitToken NULL label": "0x7", "InitToken NULL PIN": "0x7",
		"OpenSession NULL": "0x7", "OpenSession bad slot": "0x3",
		"GetSessionInfo NULL": "0x7", "GetSessionInfo bad handle": "0xb3",
		"CloseSession bad handle": "0xb3", "CloseAllSessions bad slot": "0x3",
		"Login NULL PIN": "0x7", "Login bad handle": "0xb3", "Login bad user type": "0x103",
		"Login wrong PIN": "0xa0", "Logout not logged in": "0x101",
		"InitPIN NULL": "0x7", "InitPIN not SO": "0x101",
		"SetPIN NULL": "0x7", "SetPIN bad handle": "0xb3",
		"GenerateRandom NULL": "0x7", "GenerateRandom bad handle": "0xb3", "SeedRandom NULL": "0x7",
		"DigestInit NULL": "0x7", "Digest not initialised": "0x91", "DigestInit": "0x0",
		"DigestInit again": "0x90", "Digest NULL length": "0x7", "DigestInit after NULL length": "0x0", "Digest length query": "0x0",
		"digest length": "32", "Digest short": "0x150", "digest needed": "32", "Digest": "0x0",
		"DigestUpdate not initialised": "0x91", "DigestFinal not initialised": "0x91",
		"WaitForSlotEvent NULL": "0x7", "WaitForSlotEvent": "0x8", "SignInit": "0x70", // a digest is no signing mechanism
		"GetFunctionStatus": "0x51", "CancelFunction": "0x51",
		"Finalize": "0x0", "GetSessionInfo after finalize": "0x190",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %s, want %s", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("client printed %d results, want %d:\n%s", len(got), len(want), out)
	}
}

// TestTwoProcessesOnePty: two applications share one port, 1,000 calls
// each at the same time.
func TestTwoProcessesOnePty(t *testing.T) {
	d := startTepd(t, "sim")
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := withTimeout(d.clientCmd("loop", "1000"), 2*time.Minute)
			if err != nil || results(out)["loop"] != "0x0" {
				t.Errorf("client %d: %v\n%s", i, err, out)
			}
		}()
	}
	wg.Wait()
}

func TestForeignSessionHandle(t *testing.T) {
	d := startTepd(t, "sim")
	holder := d.clientCmd("hold")
	stdin, _ := holder.StdinPipe()
	stdout, _ := holder.StdoutPipe()
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer holder.Wait()
	defer stdin.Close()
	line := make([]byte, 64)
	n, _ := stdout.Read(line)
	h, ok := strings.CutPrefix(strings.TrimSpace(string(line[:n])), "session=")
	if !ok {
		t.Fatalf("holder printed %q", line[:n])
	}
	out, err := withTimeout(d.clientCmd("use", h), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	got := results(out)
	for _, k := range []string{"GetSessionInfo foreign", "GenerateRandom foreign", "CloseSession foreign"} {
		if got[k] != "0xb3" {
			t.Errorf("%s = %s, want CKR_SESSION_HANDLE_INVALID (0xb3)", k, got[k])
		}
	}
	stdin.Write([]byte("go\n"))
	rest := make([]byte, 64)
	n, _ = stdout.Read(rest)
	if !strings.Contains(string(rest[:n]), "GetSessionInfo=0x0") {
		t.Errorf("the owner's session after the foreign attempts: %q", rest[:n])
	}
}

// TestServerRestart: tepd restarts between two calls; the client gets an
// error, and works again after C_Finalize and C_Initialize.
func TestServerRestart(t *testing.T) {
	d := startTepd(t, "sim")
	c := d.clientCmd("restart")
	c.Env = d.env("TEP_CALL_TIMEOUT=3s")
	stdin, _ := c.StdinPipe()
	stdout, _ := c.StdoutPipe()
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 256)
	n, _ := stdout.Read(buf)
	if !strings.Contains(string(buf[:n]), "before=0x0") {
		t.Fatalf("first call: %q", buf[:n])
	}
	d.stop()
	d.start()
	stdin.Write([]byte("go\n"))
	var all []byte
	for {
		n, err := stdout.Read(buf)
		all = append(all, buf[:n]...)
		if err != nil {
			break
		}
	}
	c.Wait()
	got := results(all)
	if got["after restart"] == "0x0" {
		t.Errorf("a call on the session of the old tepd succeeded")
	}
	for _, k := range []string{"Finalize", "Initialize", "GetSlotList", "again"} {
		if got[k] != "0x0" {
			t.Errorf("%s = %s after the restart, want CKR_OK\n%s", k, got[k], all)
		}
	}
}

// TestGarbageOnThePort: noise written onto the port does not stop the
// next call.
func TestGarbageOnThePort(t *testing.T) {
	d := startTepd(t, "sim")
	f, err := os.OpenFile(d.port, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	noise := make([]byte, 10000)
	for i := range noise {
		noise[i] = byte(rand.Uint32())
	}
	copy(noise[5000:], "\x7eTEP") // a false sync marker too
	f.Write(noise)
	f.Close()
	out, err := withTimeout(d.clientCmd("loop", "10"), time.Minute)
	if err != nil || results(out)["loop"] != "0x0" {
		t.Fatalf("calls after noise: %v\n%s", err, out)
	}
}

// TestClientKilledHoldingThePort: a client SIGKILLed while it holds the
// port lock does not block the next client: the kernel drops the lock.
func TestClientKilledHoldingThePort(t *testing.T) {
	d := startTepd(t, "sim")
	holder := exec.Command(os.Args[0], "-test.run=^$")
	holder.Env = append(os.Environ(), "TEP_E2E_HOLD_PORT="+d.port)
	stdout, _ := holder.StdoutPipe()
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	line := make([]byte, 16)
	if n, _ := stdout.Read(line); !strings.HasPrefix(string(line[:n]), "holding") {
		t.Fatalf("holder: %q", line[:n])
	}
	c := d.clientCmd("once")
	c.Env = d.env("TEP_CALL_TIMEOUT=10s", "TEP_START_TIMEOUT=10s")
	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1)
	go func() { out, err := c.Output(); done <- result{out, err} }()
	time.Sleep(300 * time.Millisecond)
	holder.Process.Kill()
	holder.Wait()
	r := <-done
	got := results(r.out)
	if r.err != nil || got["Initialize"] != "0x0" || got["GetSlotList"] != "0x0" {
		t.Fatalf("client after the holder was killed: %v\n%s", r.err, r.out)
	}
}

// TestP11Kit registers the module with p11-kit, as make install does, and
// reaches the token through p11-kit's proxy module.
func TestP11Kit(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test writes a p11-kit module file under /usr/share/p11-kit/modules and needs root (CI runs as root)")
	}
	d := startTepd(t, "sim")
	conf := "/usr/share/p11-kit/modules/tep-e2e.module"
	if err := os.WriteFile(conf, []byte("module: "+bin.module+"\ncritical: no\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(conf) })
	cmd := exec.Command("p11-kit", "list-modules")
	cmd.Env = d.env()
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "tep-e2e") || !strings.Contains(string(out), "TEP Token") {
		t.Fatalf("p11-kit list-modules: %v\n%s", err, out)
	}
	proxy, err := exec.Command("sh", "-c", "ls /usr/lib/*/p11-kit-proxy.so /usr/lib/p11-kit-proxy.so 2>/dev/null | head -1").Output()
	if err != nil || len(proxy) == 0 {
		t.Fatal("p11-kit-proxy.so not found")
	}
	cmd = exec.Command("pkcs11-tool", "--module", strings.TrimSpace(string(proxy)), "--list-slots")
	cmd.Env = d.env()
	out, err = cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "TEP Token") {
		t.Fatalf("pkcs11-tool through p11-kit-proxy: %v\n%s", err, out)
	}
}

// TestInitializeWithoutServer: a port that does not open, and a port
// nobody answers on, both make C_Initialize return CKR_DEVICE_ERROR with
// the reason in the log, within the start timeout.
func TestInitializeWithoutServer(t *testing.T) {
	dir := t.TempDir()
	p, err := link.NewPTY(dir + "/ttyS5") // a port with no tepd behind it
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, tc := range []struct {
		name, port, reason string
	}{
		{"missing device", dir + "/no-such-tty", "no-such-tty"},
		{"silent server", p.Path, "no answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logFile := dir + "/" + strings.ReplaceAll(tc.name, " ", "-") + ".log"
			cmd := exec.Command(bin.client, bin.module, "once")
			cmd.Env = append(os.Environ(), "TEC_COMM_PORT="+tc.port, "TEP_START_TIMEOUT=500ms", "TEP_LOG="+logFile)
			out, err := withTimeout(cmd, 30*time.Second)
			if err != nil {
				t.Fatalf("client: %v\n%s", err, out)
			}
			if got := results(out)["Initialize"]; got != "0x30" {
				t.Errorf("C_Initialize = %s, want CKR_DEVICE_ERROR (0x30)", got)
			}
			if got := results(out)["GetSlotList"]; got != "0x190" {
				t.Errorf("C_GetSlotList after the failed C_Initialize = %s, want CKR_CRYPTOKI_NOT_INITIALIZED", got)
			}
			log, _ := os.ReadFile(logFile)
			if !strings.Contains(string(log), tc.reason) {
				t.Errorf("log %q does not say %q", log, tc.reason)
			}
		})
	}
}

// TestUnixSocketPort: TEC_COMM_PORT=unix:PATH reaches tepd's socket, as in
// a container.
func TestUnixSocketPort(t *testing.T) {
	d := startTepd(t, "sim")
	c := exec.Command(bin.client, bin.module, "loop", "100")
	c.Env = append(os.Environ(), "TEC_COMM_PORT=unix:"+d.socket())
	out, err := withTimeout(c, time.Minute)
	if err != nil || results(out)["loop"] != "0x0" {
		t.Fatalf("calls over the unix socket: %v\n%s", err, out)
	}
}
