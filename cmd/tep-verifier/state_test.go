package main

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"sync"
	"testing"
)

// TestStateLock: replicas starting at once on one empty state directory
// all load the one signing key and TLS certificate that one of them
// made. The starts must overlap for the test to mean anything: it
// makes them a few times.
func TestStateLock(t *testing.T) {
	for range 30 {
		startAtOnce(t, t.TempDir())
	}
}

func startAtOnce(t *testing.T, state string) {
	const n = 16
	keys := make([][]byte, n)
	certs := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			err := withStateLock(state, func() error {
				k, err := signingKey(state)
				if err != nil {
					return err
				}
				c, err := tlsCert(state, []string{"127.0.0.1"}, slog.New(slog.DiscardHandler))
				if err != nil {
					return err
				}
				keys[i] = pubDER(t, k)
				certs[i] = leaf(c)
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	k, err := signingKey(state)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tlsCert(state, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if !bytes.Equal(keys[i], pubDER(t, k)) {
			t.Errorf("start %d loaded another signing key than the one on disk", i)
		}
		if !bytes.Equal(certs[i], leaf(c)) {
			t.Errorf("start %d loaded another TLS certificate than the one on disk", i)
		}
	}
}

func pubDER(t *testing.T, k crypto.Signer) []byte {
	b, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func leaf(c tls.Certificate) []byte {
	if len(c.Certificate) == 0 {
		return nil
	}
	return c.Certificate[0]
}
