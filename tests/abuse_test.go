package tests

import (
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tep.dev/tep/p11"
	p11client "tep.dev/tep/provider/client"
	"tep.dev/tep/provider/client/clienttest"
	"tep.dev/tep/wire"
)

// rssBound is what tepd's resident memory must stay under, whatever its
// clients do (README.md, "Limits of the server").
const rssBound = 256 << 20

// TestAbusePartialMessagesRSS: 12 connections to tepd's unix socket each
// send all of a 31 MiB message but its last frame, and hold it. Without an
// assembly budget tepd holds every one of them (372 MiB, the issue saw
// 2 GiB with 63 connections); with the default budget of 32 MiB one is
// read at a time, the others wait unread, and each is given up after the
// quiet gap (so the test takes about 12 s). tepd's peak resident memory
// stays under 256 MiB, and a signer on a pty keeps signing.
func TestAbusePartialMessagesRSS(t *testing.T) {
	d := startTepd(t, "sim")
	sg := startSigner(t, d.port)
	raw := make([]byte, 31<<20)
	frames := wire.AppendFrames(nil, raw)
	held := frames[:len(frames)-wire.MaxFrame] // all but the last frame
	var wg sync.WaitGroup
	for range 12 {
		conn, err := net.Dial("unix", d.socket())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := conn.Write(held); err != nil {
				t.Errorf("writing a partial message: %v", err)
			}
		}()
	}
	wg.Wait()
	sg.Finish(t)
	hwm := peakRSS(t, d.srv.Pid())
	t.Logf("tepd's peak resident memory: %d MiB (bound %d MiB)", hwm>>20, rssBound>>20)
	if hwm > rssBound {
		t.Errorf("tepd's peak resident memory %d MiB, over the bound of %d MiB", hwm>>20, rssBound>>20)
	}
}

// TestAbuseSessionObjectsRSS: 4 clients, none logged in, each create four
// 30 MiB session objects. Without limits tepd holds all of them (480 MiB;
// the issue saw 2 GiB in 25 s); with the defaults (32 MiB a client, 48 MiB
// in all) the first fits, the rest get CKR_DEVICE_MEMORY, and tepd's peak
// resident memory stays under 256 MiB while a signer keeps signing.
//
// The messages that do not fit tepd's budget for partial messages wait
// for room, one after another, and under the race detector on a loaded
// machine the last of the 16 waited past two minutes: tepd's default
// assembly_wait, after which its frames are dropped unanswered, and the
// client's default call timeout. So here a message may wait ten minutes
// for room, a call ten minutes for its reply, and the lease is ten
// minutes too (tepd's reaper sees only whole messages and would forget a
// client whose only fault was to wait for tepd; README, "Limits of the
// server"). What is tested is the memory bound, not the time.
func TestAbuseSessionObjectsRSS(t *testing.T) {
	d := startTepdServing(t, "sim", []string{"--lease", "10m", "--limit", "assembly_wait=10m"})
	sg := startSigner(t, d.port)
	value := make([]byte, 30<<20)
	var wg sync.WaitGroup
	var refused atomic.Int64
	for range 4 {
		c, err := p11client.Dial(p11client.Config{Port: "unix:" + d.socket(), StartTimeout: 10 * time.Second, CallTimeout: 10 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		s, err := c.OpenSession(1, p11.CKF_SERIAL_SESSION)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 4 {
				_, err := c.CreateObject(s, []p11.Attribute{{Type: p11.CKA_CLASS, Value: p11.Ulong(p11.CKO_DATA)},
					{Type: p11.CKA_PRIVATE, Value: p11.Bool(false)}, {Type: p11.CKA_VALUE, Value: value}})
				switch rv, _ := err.(p11.RV); {
				case err == nil:
				case rv == p11.CKR_DEVICE_MEMORY:
					refused.Add(1)
				default:
					t.Errorf("C_CreateObject of 30 MiB = %v, want CKR_OK or CKR_DEVICE_MEMORY", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	sg.Finish(t)
	hwm := peakRSS(t, d.srv.Pid())
	t.Logf("%d of 16 objects refused; tepd's peak resident memory: %d MiB (bound %d MiB)", refused.Load(), hwm>>20, rssBound>>20)
	if refused.Load() != 15 {
		t.Errorf("%d of 16 objects of 30 MiB refused, want 15", refused.Load())
	}
	if hwm > rssBound {
		t.Errorf("tepd's peak resident memory %d MiB, over the bound of %d MiB", hwm>>20, rssBound>>20)
	}
}

// peakRSS reads a process's peak resident memory (VmHWM).
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/PID/status")
	return 0
}

// startSigner logs in on port, makes a P-256 key and signs with it in a
// loop.
func startSigner(t *testing.T, port string) *clienttest.Signer {
	t.Helper()
	c, err := p11client.Dial(p11client.Config{Port: port, StartTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s, err := c.OpenSession(1, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err == nil {
		err = c.Login(s, p11.CKU_USER, []byte(userPIN))
	}
	if err != nil {
		t.Fatal(err)
	}
	return clienttest.StartSigner(t, c, s)
}
