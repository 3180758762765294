// Package clienttest holds test support for code that drives tepd through
// the pure-Go client: a signer that keeps signing while a test abuses the
// server, to show that honest work goes on.
package clienttest

import (
	"crypto/sha256"
	"sync/atomic"
	"testing"
	"time"

	"tep.dev/tep/p11"
	"tep.dev/tep/provider/client"
)

// oidP256 is the DER OID of the NIST P-256 curve, CKA_EC_PARAMS.
var oidP256 = []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}

// Signer signs in a loop with a P-256 key of its own.
type Signer struct {
	n     atomic.Int64
	worst time.Duration
	err   error
	stop  chan struct{}
	done  chan struct{}
}

// StartSigner makes a P-256 key pair in session s of c (a logged-in,
// read-write session) and signs with it in a loop until Finish.
func StartSigner(t testing.TB, c *client.Client, s uint64) *Signer {
	t.Helper()
	_, priv, err := c.GenerateKeyPair(s, p11.Mechanism{Type: p11.CKM_EC_KEY_PAIR_GEN},
		[]p11.Attribute{{Type: p11.CKA_EC_PARAMS, Value: oidP256}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sg := &Signer{stop: make(chan struct{}), done: make(chan struct{})}
	sum := sha256.Sum256([]byte("signed while tepd is abused"))
	go func() {
		defer close(sg.done)
		for {
			select {
			case <-sg.stop:
				return
			default:
			}
			start := time.Now()
			err := c.SignInit(s, p11.Mechanism{Type: p11.CKM_ECDSA}, priv)
			if err == nil {
				_, _, err = c.Sign(s, sum[:], 64)
			}
			if err != nil {
				sg.err = err
				return
			}
			sg.worst = max(sg.worst, time.Since(start))
			sg.n.Add(1)
		}
	}()
	return sg
}

// Finish waits for one more signature at least (the signer must still get
// through after the abuse), stops the signer, fails the test if any
// signature failed, and logs the count and the worst wait.
func (sg *Signer) Finish(t testing.TB) {
	t.Helper()
	for n := sg.n.Load(); sg.n.Load() == n; {
		select {
		case <-sg.done:
			t.Fatalf("the signer stopped: %v", sg.err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	close(sg.stop)
	<-sg.done
	if sg.err != nil {
		t.Errorf("a signature failed under abuse: %v", sg.err)
	}
	t.Logf("signer: %d signatures, worst wait %v", sg.n.Load(), sg.worst)
}

// Count is how many signatures have been made so far.
func (sg *Signer) Count() int64 { return sg.n.Load() }
