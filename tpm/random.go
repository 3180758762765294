package tpm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/google/go-tpm/tpm2"
)

const (
	// maxRandomRequest bounds one TPM2_GetRandom request. The TPM returns
	// at most the size of its largest digest per call (Part 3, 16.1), often
	// less than asked; GetRandom loops for the rest.
	maxRandomRequest = 64
	// maxSymData is MAX_SYM_DATA, the size of TPM2B_SENSITIVE_DATA's
	// buffer (Part 2, 11.1.14): the most one TPM2_StirRandom takes and the
	// largest secret a sealed-data object holds.
	maxSymData = 128
	// randomPoolSize is how many bytes of the TPM's randomness the pool
	// holds at most; it is refilled once it falls below randomPoolLow.
	randomPoolSize = 1024
	randomPoolLow  = randomPoolSize / 2
)

// randomPool holds bytes the TPM's random number generator returned
// before anyone asked for them, so that a request for a few bytes (a
// nonce, an auth value, PKCS#11's C_GenerateRandom) costs no TPM command.
// A background filler tops it up one TPM2_GetRandom at a time, letting
// other commands in between. Every byte is handed out once and zeroed as
// it leaves; StirRandom and Close empty the pool, so bytes drawn before a
// stir are never served after it.
type randomPool struct {
	mu      sync.Mutex
	buf     []byte // unused bytes, served from the end
	filling bool   // a filler is running
	closed  bool   // the TPM is closing: no more fillers
	stirs   uint64 // bumped by every emptying: a filler's bytes from before are dropped
	filler  sync.WaitGroup
}

// take fills out from the pool and reports whether it had enough.
func (p *randomPool) take(out []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(out) > len(p.buf) {
		return false
	}
	rest := len(p.buf) - len(out)
	copy(out, p.buf[rest:])
	clear(p.buf[rest:])
	p.buf = p.buf[:rest]
	return true
}

// close stops the pool from starting fillers.
func (p *randomPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
}

// empty zeroes and forgets the pool's bytes.
func (p *randomPool) empty() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.buf)
	p.buf = p.buf[:0]
	p.stirs++
}

// GetRandom returns n bytes from the TPM's random number generator: from
// the pool when it holds enough, else straight from the TPM, taking the
// TPM's lock for one TPM2_GetRandom at a time.
func (t *TPM) GetRandom(n int) ([]byte, error) {
	if n < 0 {
		return nil, fmt.Errorf("getting %d random bytes: negative length", n)
	}
	out := make([]byte, n)
	defer t.refillRandom()
	if t.random.take(out) {
		return out, nil
	}
	// One TPM command per turn of the lock: a long request must not
	// keep every other caller (a signer) waiting until it is done.
	for got := 0; got < n; {
		err := t.do(func(l locked) error {
			k, err := l.getRandom(out[got:min(n, got+maxRandomRequest)])
			got += k
			return err
		})
		if err != nil {
			clear(out)
			return nil, fmt.Errorf("getting random bytes: %w", err)
		}
	}
	return out, nil
}

// refillRandom starts the pool's filler unless the pool is above its low
// mark or being filled.
func (t *TPM) refillRandom() {
	p := &t.random
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.filling || p.closed || len(p.buf) >= randomPoolLow {
		return
	}
	p.filling = true
	p.filler.Add(1)
	go t.fillRandom()
}

// fillRandom tops the pool up to randomPoolSize, one TPM command at a
// time, and stops early when the TPM fails or is closed: the next request
// then goes to the TPM and reports the failure itself.
func (t *TPM) fillRandom() {
	p := &t.random
	defer p.filler.Done()
	var chunk [maxRandomRequest]byte
	for {
		p.mu.Lock()
		want, stirs := randomPoolSize-len(p.buf), p.stirs
		p.mu.Unlock()
		var k int
		err := t.do(func(l locked) (err error) {
			k, err = l.getRandom(chunk[:min(want, len(chunk))])
			return err
		})
		p.mu.Lock()
		if err == nil && p.stirs == stirs {
			if p.buf == nil {
				p.buf = make([]byte, 0, randomPoolSize)
			}
			p.buf = append(p.buf, chunk[:min(k, randomPoolSize-len(p.buf))]...)
		}
		clear(chunk[:])
		done := err != nil || len(p.buf) >= randomPoolSize
		if done {
			p.filling = false
		}
		p.mu.Unlock()
		if done {
			return
		}
	}
}

// getRandom is one TPM2_GetRandom (Part 3, 16.1) for up to len(out)
// bytes, marshalled by hand: it returns how many it put in out.
func (l locked) getRandom(out []byte) (int, error) {
	params := binary.BigEndian.AppendUint16(nil, uint16(len(out)))
	rparms, err := l.command(tpm2.TPMCCGetRandom, nil, params)
	if err != nil {
		return 0, err
	}
	r := &rspReader{b: rparms}
	got := r.sized()
	switch {
	case r.err != nil || len(r.b) != 0:
		return 0, errors.New("malformed TPM2_GetRandom response")
	case len(got) == 0 || len(got) > len(out):
		return 0, fmt.Errorf("asked for %d random bytes, TPM returned %d", len(out), len(got))
	}
	return copy(out, got), nil
}

// StirRandom mixes data into the TPM's random number generator state
// (TPM2_StirRandom, Part 3, 16.2), in as many commands as it takes. The
// pool's bytes, drawn before the stir, are thrown away.
func (t *TPM) StirRandom(data []byte) error {
	t.random.empty()
	err := t.do(func(l locked) error {
		for len(data) > 0 {
			chunk := data[:min(len(data), maxSymData)]
			data = data[len(chunk):]
			params := tpm2.Marshal(tpm2.TPM2BSensitiveData{Buffer: chunk})
			if _, err := l.command(tpm2.TPMCCStirRandom, nil, params); err != nil {
				return err
			}
		}
		return nil
	})
	t.random.empty()
	if err != nil {
		return fmt.Errorf("stirring random: %w", err)
	}
	return nil
}
