package tpm

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

// TestRestart checks that a blob sealed before Close unseals after the
// TPM is opened again: same simulator seed file, or same swtpm.
func TestRestart(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *TPM, tg target) {
		pin := []byte("4321")
		s, err := tp.Seal([]byte("survives"), pin)
		if err != nil {
			t.Fatalf("Seal() = %v", err)
		}
		if err := tp.Close(); err != nil {
			t.Fatalf("Close() = %v", err)
		}
		tp = openTPM(t, tg)
		got, err := tp.Unseal(s, pin)
		if err != nil || string(got) != "survives" {
			t.Fatalf("Unseal() after reopening = %q, %v", got, err)
		}
		assertClean(t, tp, 1)
	})
}

// TestLeftovers leaves a transient object, a loaded session and a saved
// session on the TPM, ends the connection (by Close, or by dropping it as a
// crashed process would), and checks that the next Open flushes them.
func TestLeftovers(t *testing.T) {
	ends := []struct {
		name string
		end  func(*TPM) error
	}{
		{"close", (*TPM).Close},
		{"crash", func(tp *TPM) error { tp.abandon(); return nil }},
	}
	for _, e := range ends {
		t.Run(e.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, tp *TPM, tg target) {
				leaveLeftovers(t, tp)
				if n, _ := tp.LoadedTransients(); n != 2 {
					t.Fatalf("LoadedTransients() = %d before ending, want 2", n)
				}
				if n, _ := tp.LoadedSessions(); n != 2 {
					t.Fatalf("LoadedSessions() = %d before ending, want 2", n)
				}
				if err := e.end(tp); err != nil {
					t.Fatalf("ending connection: %v", err)
				}
				if tg.spec != "sim" { // the simulator starts afresh on Open
					assertLeft(t, tg, e.name == "crash")
				}
				assertClean(t, openTPM(t, tg), 1)
			})
		})
	}
}

// assertLeft checks, on a bare connection that skips Open's cleanup, that
// the leftovers (and, after a crash, the storage primary key) are still
// there for Open to flush.
func assertLeft(t *testing.T, tg target, crashed bool) {
	t.Helper()
	b, err := openBackend(tg.spec, tg.dir)
	if err != nil {
		t.Fatal(err)
	}
	bare := &TPM{rw: b.rw, release: b.release}
	defer bare.abandon()
	want := 1
	if crashed {
		want = 2
	}
	if n, err := bare.LoadedTransients(); err != nil || n != want {
		t.Errorf("LoadedTransients() before cleanup = %d, %v, want %d", n, err, want)
	}
	if n, err := bare.LoadedSessions(); err != nil || n != 2 {
		t.Errorf("LoadedSessions() before cleanup = %d, %v, want 2", n, err)
	}
}

// leaveLeftovers creates, through the raw transport, handles that nobody
// flushes.
func leaveLeftovers(t *testing.T, tp *TPM) {
	t.Helper()
	_, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
		InPublic:      tpm2.New2B(tpm2.ECCSRKTemplate),
	}.Execute(tp)
	if err != nil {
		t.Fatalf("CreatePrimary() = %v", err)
	}
	if _, _, err := tpm2.HMACSession(tp, tpm2.TPMAlgSHA256, 16); err != nil {
		t.Fatalf("starting session: %v", err)
	}
	saved, _, err := tpm2.HMACSession(tp, tpm2.TPMAlgSHA256, 16)
	if err != nil {
		t.Fatalf("starting session: %v", err)
	}
	if _, err := (tpm2.ContextSave{SaveHandle: saved.Handle()}).Execute(tp); err != nil {
		t.Fatalf("ContextSave() = %v", err)
	}
}

// TestConcurrent runs operations from several goroutines on one TPM, for
// the race detector and for handle accounting under interleaving.
func TestConcurrent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *TPM, _ target) {
		relaxDA(t, tp)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for g := range 4 {
			wg.Go(func() { errs <- sealLoop(tp, g) })
			wg.Go(func() { errs <- randomLoop(tp) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		assertClean(t, tp, 1)
	})
}

func sealLoop(tp *TPM, g int) error {
	for i := range 5 {
		secret := fmt.Appendf(nil, "goroutine %d secret %d", g, i)
		pin := []byte{byte(g), 0, byte(i)}
		s, err := tp.Seal(secret, pin)
		if err != nil {
			return err
		}
		got, err := tp.Unseal(s, pin)
		if err != nil || !bytes.Equal(got, secret) {
			return fmt.Errorf("Unseal() = %q, %v, want %q", got, err, secret)
		}
	}
	return nil
}

func randomLoop(tp *TPM) error {
	for range 10 {
		if _, err := tp.GetRandom(100); err != nil {
			return err
		}
		if err := tp.StirRandom(make([]byte, 200)); err != nil {
			return err
		}
	}
	return nil
}
