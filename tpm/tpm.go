package tpm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// Retry policy for TPM_RC_RETRY, TPM_RC_YIELDED and TPM_RC_TESTING: the
// command is sent again after a growing pause, up to maxAttempts times in
// all (about three seconds of waiting).
const (
	maxAttempts  = 10
	firstBackoff = 10 * time.Millisecond
	maxBackoff   = time.Second
)

// TPM is an open TPM. See the package documentation for its concurrency
// and lifetime rules.
type TPM struct {
	mu       sync.Mutex
	rw       transport.TPMCloser // nil once closed
	release  func()              // runs after rw is closed; may be nil
	insecure bool
	slots    int
	srk      tpm2.NamedHandle
	srkPub   tpm2.TPMTPublic
	keys     keyCache
	random   randomPool
	// maxBuffer is the most data one command takes in a TPM2B_MAX_BUFFER.
	maxBuffer int
	caps      *Caps // cached by Algorithms
}

// backend is what opening a spec yields before the TPM is set up.
type backend struct {
	rw       transport.TPMCloser
	release  func()
	insecure bool
	// hygiene is true when every handle on the TPM is ours to flush.
	hygiene bool
	// powerOn sends TPM_Init out of band (swtpm's control channel); nil
	// when the platform has no such thing.
	powerOn func() error
}

// Open opens the TPM named by spec ("sim", "swtpm:HOST:PORT",
// "swtpm:unix:PATH" or a device path; see the package documentation),
// starts it if needed, cleans up leftover handles and loads the storage
// primary key.
//
// stateDir is used by "sim" only: it holds the file with the simulator's
// seed, created on first use. With an empty stateDir the simulator gets a
// fresh random seed that is not stored, so nothing sealed survives Close.
func Open(spec, stateDir string) (*TPM, error) {
	b, err := openBackend(spec, stateDir)
	if err != nil {
		return nil, fmt.Errorf("opening TPM %q: %w", spec, err)
	}
	t := &TPM{rw: b.rw, release: b.release, insecure: b.insecure}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := (locked{t}).setUp(b); err != nil {
		t.drop()
		return nil, fmt.Errorf("opening TPM %q: %w", spec, err)
	}
	return t, nil
}

func (l locked) setUp(b backend) error {
	if err := l.startup(b.powerOn); err != nil {
		return fmt.Errorf("starting up: %w", err)
	}
	if b.hygiene {
		if err := l.flushAll(); err != nil {
			return fmt.Errorf("flushing leftover handles: %w", err)
		}
	}
	slots, err := l.property(tpm2.TPMPTHRTransientMin)
	if err != nil {
		return fmt.Errorf("reading TPM_PT_HR_TRANSIENT_MIN: %w", err)
	}
	l.t.slots = int(slots)
	l.t.keys.size = cacheSize(l.t.slots)
	loaded, err := l.property(tpm2.TPMPTHRLoadedMin)
	if err != nil {
		return fmt.Errorf("reading TPM_PT_HR_LOADED_MIN: %w", err)
	}
	l.t.keys.maxSessions = sessionCacheSize(int(loaded))
	if l.t.maxBuffer, err = l.inputBuffer(); err != nil {
		return fmt.Errorf("reading TPM_PT_INPUT_BUFFER: %w", err)
	}
	return l.createSRK()
}

// startup sends TPM2_Startup(CLEAR). TPM_RC_INITIALIZE means the TPM was
// already started, which is fine. swtpm answers TPM_RC_FAILURE until it
// gets TPM_Init, so on that answer powerOn (if any) runs and Startup is
// tried once more.
func (l locked) startup(powerOn func() error) error {
	err := l.startupClear()
	if errors.Is(err, tpm2.TPMRCFailure) && powerOn != nil {
		if err := powerOn(); err != nil {
			return err
		}
		err = l.startupClear()
	}
	return err
}

func (l locked) startupClear() error {
	_, err := tpm2.Startup{StartupType: tpm2.TPMSUClear}.Execute(l)
	if errors.Is(err, tpm2.TPMRCInitialize) {
		return nil
	}
	return err
}

func (l locked) createSRK() error {
	rsp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
		InPublic:      tpm2.New2B(tpm2.ECCSRKTemplate),
	}.Execute(l)
	if err != nil {
		return fmt.Errorf("creating storage primary key: %w", err)
	}
	pub, err := rsp.OutPublic.Contents()
	if err != nil {
		l.flush(rsp.ObjectHandle)
		return fmt.Errorf("reading storage primary key: %w", err)
	}
	l.t.srk = tpm2.NamedHandle{Handle: rsp.ObjectHandle, Name: rsp.Name}
	l.t.srkPub = *pub
	return nil
}

// Insecure reports whether the TPM is the embedded simulator, whose keys
// anyone with the state directory can recreate.
func (t *TPM) Insecure() bool { return t.insecure }

// TransientSlots returns the TPM's TPM_PT_HR_TRANSIENT_MIN: how many
// transient objects it can surely hold at once, the storage primary key
// included.
func (t *TPM) TransientSlots() int { return t.slots }

// SRK returns the handle and name of the storage primary key, with its
// public area (for salting sessions). It stays valid until Close; callers
// must not flush it.
func (t *TPM) SRK() (tpm2.NamedHandle, tpm2.TPMTPublic) { return t.srk, t.srkPub }

// Send sends one command to the TPM and returns its response, holding the
// TPM's mutex throughout. A response of TPM_RC_RETRY, TPM_RC_YIELDED or
// TPM_RC_TESTING is retried after a short pause, a bounded number of times;
// every other response is returned as it came. Send makes *TPM a
// transport.TPM.
func (t *TPM) Send(cmd []byte) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sendLocked(cmd)
}

func (t *TPM) sendLocked(cmd []byte) ([]byte, error) {
	if t.rw == nil {
		return nil, ErrClosed
	}
	delay := firstBackoff
	for attempt := 1; ; attempt++ {
		rsp, err := t.rw.Send(cmd)
		if err != nil || attempt == maxAttempts || !retryable(rsp) {
			return rsp, err
		}
		time.Sleep(delay)
		delay = min(2*delay, maxBackoff)
	}
}

// retryable reports whether a response carries a response code that asks
// the caller to send the same command again (TPM 2.0 Part 2, 6.6.3).
func retryable(rsp []byte) bool {
	if len(rsp) < 10 {
		return false
	}
	switch tpm2.TPMRC(binary.BigEndian.Uint32(rsp[6:10])) {
	case tpm2.TPMRCRetry, tpm2.TPMRCYielded, tpm2.TPMRCTesting:
		return true
	}
	return false
}

// Close flushes the loaded keys, their sessions and the storage primary
// key, closes the connection and zeroes the random pool. The simulator's
// seed file stays. Close after Close returns nil.
func (t *TPM) Close() error {
	t.random.close()
	err := t.close()
	t.random.filler.Wait() // after t.mu is released: the filler needs it to see the TPM closed
	t.random.empty()
	return err
}

func (t *TPM) close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.rw == nil {
		return nil
	}
	kerr := locked{t}.evict(len(t.keys.entries))
	if kerr != nil {
		kerr = fmt.Errorf("flushing loaded keys: %w", kerr)
	}
	_, ferr := tpm2.FlushContext{FlushHandle: t.srk.Handle}.Execute(locked{t})
	if ferr != nil {
		ferr = fmt.Errorf("flushing storage primary key: %w", ferr)
	}
	return errors.Join(kerr, ferr, t.drop())
}

// drop closes the transport without flushing anything. t.mu must be held.
func (t *TPM) drop() error {
	err := t.rw.Close()
	t.rw = nil
	if t.release != nil {
		t.release()
	}
	if err != nil {
		return fmt.Errorf("closing TPM: %w", err)
	}
	return nil
}

// Do runs f with the TPM to itself: the commands f sends through tr are
// not interleaved with anyone else's, and tr is valid only until f returns.
// Use it for sequences that load objects or start sessions, so that
// concurrent callers do not run the TPM out of its few object and session
// slots (TPM_RC_OBJECT_MEMORY, TPM_RC_SESSION_MEMORY). f can count on one
// free transient slot; call FlushKeys first to have all but the storage
// primary key's. f must not call methods of t.
func (t *TPM) Do(f func(tr transport.TPM) error) error {
	return t.do(func(l locked) error { return f(l) })
}

func (t *TPM) do(f func(l locked) error) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.rw == nil {
		return ErrClosed
	}
	return f(locked{t})
}

// locked is the TPM while t.mu is held: the transport of the commands of one
// operation, and the receiver of the helpers such operations are made of.
type locked struct{ t *TPM }

func (l locked) Send(cmd []byte) ([]byte, error) { return l.t.sendLocked(cmd) }
