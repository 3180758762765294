package tpm

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"tep.dev/tep/internal/swtpm"
	"tep.dev/tep/tpm/tpmtest"
)

// target is one TPM a test runs against: its spec and state directory, so
// that tests can open it again.
type target struct {
	spec, dir string
}

// backends lists the real TPMs every test runs on. The swtpm entry starts
// its swtpm only when a subtest asks for it.
var backends = []struct {
	name string
	make func(t *testing.T) target
}{
	{"sim", func(t *testing.T) target { return target{"sim", t.TempDir()} }},
	{"swtpm", func(t *testing.T) target { return target{tpmtest.StartSWTPM(t), ""} }},
}

// forEachBackend runs f on a freshly opened TPM of each backend. The
// subtests run one after another: the simulator is one per process.
func forEachBackend(t *testing.T, f func(t *testing.T, tp *TPM, tg target)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			tg := b.make(t)
			f(t, openTPM(t, tg), tg)
		})
	}
}

func openTPM(t testing.TB, tg target) *TPM {
	t.Helper()
	tp, err := Open(tg.spec, tg.dir)
	if err != nil {
		t.Fatalf("Open(%q) = %v", tg.spec, err)
	}
	t.Cleanup(func() {
		if err := tp.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	return tp
}

// abandon drops the connection without flushing anything, as a crashed
// process would.
func (t *TPM) abandon() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.rw != nil {
		t.drop()
	}
}

func TestOpen(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *TPM, tg target) {
		if got, want := tp.Insecure(), tg.spec == "sim"; got != want {
			t.Errorf("Insecure() = %v, want %v", got, want)
		}
		if got := tp.TransientSlots(); got < 2 {
			t.Errorf("TransientSlots() = %d, want at least 2", got)
		}
		n, err := tp.LoadedTransients()
		if err != nil || n != 1 {
			t.Errorf("LoadedTransients() = %d, %v, want 1 (the storage primary key)", n, err)
		}
		srk, pub := tp.SRK()
		if srk.Handle>>24 != tpm2.TPMHandle(tpm2.TPMHTTransient) || pub.Type != tpm2.TPMAlgECC {
			t.Errorf("SRK() = 0x%08x, type %v, want a transient ECC key", srk.Handle, pub.Type)
		}
		if err := tp.Close(); err != nil {
			t.Fatalf("Close() = %v", err)
		}
		if err := tp.Close(); err != nil {
			t.Errorf("second Close() = %v, want nil", err)
		}
		if _, err := tp.GetRandom(1); !errors.Is(err, ErrClosed) {
			t.Errorf("GetRandom after Close = %v, want ErrClosed", err)
		}
	})
}

func TestOpenErrors(t *testing.T) {
	for _, spec := range []string{"", "simulator", "swtpm:", "swtpm:127.0.0.1", "swtpm:127.0.0.1:65535", "swtpm:127.0.0.1:1", "/nonexistent/tpm0", "/dev/null"} {
		if tp, err := Open(spec, ""); err == nil {
			tp.Close()
			t.Errorf("Open(%q) succeeded, want error", spec)
		}
	}
}

func TestSimulatorOnePerProcess(t *testing.T) {
	openTPM(t, target{"sim", ""})
	if tp, err := Open("sim", ""); err == nil {
		tp.Close()
		t.Fatal("second Open(sim) succeeded, want error")
	}
}

func TestSimulatorSeedFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	tp := openTPM(t, target{"sim", dir})
	seed, err := os.ReadFile(filepath.Join(dir, SimSeedFile))
	if err != nil {
		t.Fatalf("reading seed file: %v", err)
	}
	_, pub1 := tp.SRK()
	tp.Close()
	tp = openTPM(t, target{"sim", dir})
	_, pub2 := tp.SRK()
	again, _ := os.ReadFile(filepath.Join(dir, SimSeedFile))
	if !bytes.Equal(seed, again) {
		t.Errorf("seed file changed from %q to %q", seed, again)
	}
	if !bytes.Equal(tpm2.Marshal(pub1), tpm2.Marshal(pub2)) {
		t.Error("storage primary key differs across Open on the same state directory")
	}
}

func TestSimulatorBadSeedFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, SimSeedFile), []byte("not hex\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if tp, err := Open("sim", dir); err == nil {
		tp.Close()
		t.Fatal("Open with a corrupt seed file succeeded, want error")
	}
}

// TestSWTPMNeedsInit checks that Open sends TPM_Init and TPM2_Startup to an
// swtpm started without --flags, over either kind of channel.
func TestSWTPMNeedsInit(t *testing.T) {
	for _, network := range []string{"unix", "tcp"} {
		t.Run(network, func(t *testing.T) {
			tp := openTPM(t, target{tpmtest.Start(t, swtpm.Config{TCP: network == "tcp", NeedInit: true}), ""})
			if _, err := tp.GetRandom(16); err != nil {
				t.Fatalf("GetRandom(16) = %v", err)
			}
		})
	}
}

func TestSWTPMBadSpec(t *testing.T) {
	for _, spec := range []string{"swtpm:unix:", "swtpm:unix:/nonexistent/tpm.sock", "swtpm:127.0.0.1:0", "swtpm:nohost"} {
		if tp, err := Open(spec, ""); err == nil {
			tp.Close()
			t.Errorf("Open(%q) succeeded, want an error", spec)
		}
	}
}

func TestRetryable(t *testing.T) {
	rsp := func(rc tpm2.TPMRC) []byte {
		return []byte{0x80, 0x01, 0, 0, 0, 10, byte(rc >> 24), byte(rc >> 16), byte(rc >> 8), byte(rc)}
	}
	tests := []struct {
		rsp  []byte
		want bool
	}{
		{rsp(tpm2.TPMRCRetry), true},
		{rsp(tpm2.TPMRCYielded), true},
		{rsp(tpm2.TPMRCTesting), true},
		{rsp(tpm2.TPMRCSuccess), false},
		{rsp(tpm2.TPMRCLockout), false},
		{rsp(tpm2.TPMRCAuthFail + 0x100), false},
		{[]byte{0x80, 0x01, 0}, false},
	}
	for _, tc := range tests {
		if got := retryable(tc.rsp); got != tc.want {
			t.Errorf("retryable(%x) = %v, want %v", tc.rsp, got, tc.want)
		}
	}
}
