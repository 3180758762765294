package tpm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// waitFilled waits for the pool's filler and returns a copy of the pool.
func waitFilled(t *testing.T, tp *TPM) []byte {
	t.Helper()
	tp.random.filler.Wait()
	tp.random.mu.Lock()
	defer tp.random.mu.Unlock()
	return bytes.Clone(tp.random.buf)
}

// allZero reports whether b is all zero bytes.
func allZero(b []byte) bool { return !bytes.ContainsFunc(b, func(r rune) bool { return r != 0 }) }

func TestRandomPoolServesOnceAndZeroes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *TPM, _ target) {
		if _, err := tp.GetRandom(32); err != nil { // empty pool: from the TPM, and starts the filler
			t.Fatal(err)
		}
		pool := waitFilled(t, tp)
		if len(pool) != randomPoolSize || allZero(pool) {
			t.Fatalf("after a draw the pool holds %d bytes (all zero: %v), want %d random ones", len(pool), allZero(pool), randomPoolSize)
		}
		got, err := tp.GetRandom(100)
		if err != nil {
			t.Fatal(err)
		}
		if want := pool[len(pool)-100:]; !bytes.Equal(got, want) {
			t.Errorf("GetRandom(100) = %x, want the pool's last 100 bytes %x", got, want)
		}
		tp.random.mu.Lock()
		left, gone := len(tp.random.buf), tp.random.buf[len(tp.random.buf):randomPoolSize]
		served := allZero(gone)
		tp.random.mu.Unlock()
		if left != randomPoolSize-100 || !served {
			t.Errorf("after serving 100 bytes the pool holds %d, and the served bytes are zeroed: %v; want %d and true", left, served, randomPoolSize-100)
		}
	})
}

func TestRandomPoolNeverRepeats(t *testing.T) {
	tp := openTPM(t, target{"sim", t.TempDir()})
	const draws, size = 8, 300 // enough to drain and refill the pool many times
	var (
		mu   sync.Mutex
		seen = map[string]bool{}
		wg   sync.WaitGroup
	)
	for range draws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range size {
				b, err := tp.GetRandom(32)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[string(b)] {
					t.Errorf("%x served twice", b)
				}
				seen[string(b)] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != draws*size {
		t.Errorf("%d distinct draws, want %d", len(seen), draws*size)
	}
}

func TestStirRandomEmptiesPool(t *testing.T) {
	tp := openTPM(t, target{"sim", t.TempDir()})
	if _, err := tp.GetRandom(1); err != nil {
		t.Fatal(err)
	}
	pool := waitFilled(t, tp)
	if err := tp.StirRandom([]byte("seed")); err != nil {
		t.Fatal(err)
	}
	tp.random.mu.Lock()
	left, backing := len(tp.random.buf), tp.random.buf[:cap(tp.random.buf)]
	zeroed := allZero(backing)
	tp.random.mu.Unlock()
	if left != 0 || !zeroed {
		t.Fatalf("after StirRandom the pool holds %d bytes, zeroed: %v; want 0 and true", left, zeroed)
	}
	b, err := tp.GetRandom(32)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(pool, b) {
		t.Errorf("GetRandom after StirRandom served bytes drawn before it")
	}
}

func TestCloseStopsRandomFiller(t *testing.T) {
	tp, err := Open("sim", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tp.GetRandom(32); err != nil { // the filler is now running
		t.Fatal(err)
	}
	if err := tp.Close(); err != nil {
		t.Fatal(err)
	}
	tp.random.mu.Lock()
	filling, backing := tp.random.filling, tp.random.buf[:cap(tp.random.buf)]
	zeroed := allZero(backing)
	tp.random.mu.Unlock()
	if filling || !zeroed {
		t.Errorf("after Close the filler runs: %v, the pool is zeroed: %v; want false and true", filling, zeroed)
	}
	if _, err := tp.GetRandom(32); !errors.Is(err, ErrClosed) {
		t.Errorf("GetRandom after Close = %v, want ErrClosed", err)
	}
	tp.random.filler.Wait() // the failed draw starts no filler that outlives it
	if tp.random.filling {
		t.Error("a filler started after Close")
	}
}

// randomCounter counts the random bytes the TPM returned to
// TPM2_GetRandom commands.
type randomCounter struct {
	transport.TPMCloser
	bytes atomic.Int64
}

func (r *randomCounter) Send(cmd []byte) ([]byte, error) {
	rsp, err := r.TPMCloser.Send(cmd)
	if err == nil && len(cmd) >= 10 && binary.BigEndian.Uint32(cmd[6:10]) == uint32(tpm2.TPMCCGetRandom) && len(rsp) > 12 {
		r.bytes.Add(int64(len(rsp) - 12)) // header (10) and the TPM2B's size (2)
	}
	return rsp, err
}

// TestGetRandomLetsOthersIn checks that a long GetRandom takes the TPM's
// lock for one TPM2_GetRandom at a time: another caller's commands run
// while part of the bytes are drawn. (Before, one request held the lock
// through all of its commands, 16,384 for a MiB: another caller saw none
// or all of them drawn, never part.)
func TestGetRandomLetsOthersIn(t *testing.T) {
	tp := openTPM(t, target{"sim", t.TempDir()})
	tp.random.filler.Wait()
	rc := &randomCounter{TPMCloser: tp.rw}
	tp.mu.Lock()
	tp.rw = rc
	tp.mu.Unlock()
	const n = 1 << 20
	finished := make(chan error, 1)
	// The draw starts while this test holds the lock, so that it waits
	// for the lock before the test's own commands do.
	tp.do(func(locked) error {
		go func() {
			_, err := tp.GetRandom(n)
			finished <- err
		}()
		time.Sleep(50 * time.Millisecond) // lets the draw queue up on the lock
		return nil
	})
	between := 0
	for drawn := int64(0); drawn < n; {
		tp.do(func(locked) error {
			if drawn = rc.bytes.Load(); drawn > 0 && drawn < n {
				between++
			}
			return nil
		})
	}
	if err := <-finished; err != nil {
		t.Fatal(err)
	}
	t.Logf("another caller took the TPM's lock %d times while 1 MiB was being drawn", between)
	if between == 0 {
		t.Error("no other caller took the TPM's lock while GetRandom drew 1 MiB")
	}
}
