package tpm

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/rsa"
	"fmt"
	"math/big"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"tep.dev/tep/tpm/tpmtest"
)

// p256Keys creates n P-256 signing keys.
func p256Keys(t testing.TB, tp *TPM, n int) ([]KeyBlob, []*ecdsa.PublicKey) {
	t.Helper()
	blobs, pubs := make([]KeyBlob, n), make([]*ecdsa.PublicKey, n)
	for i := range n {
		k, pub := createKey(t, tp, KeySpec{Kind: KindECC, Curve: elliptic.P256(), Sign: true})
		blobs[i], pubs[i] = k, pub.(*ecdsa.PublicKey)
	}
	return blobs, pubs
}

// signAndVerify signs with key i and checks the signature against key i's
// public key, which catches a cache that hands out the wrong handle.
func signAndVerify(tp *TPM, blobs []KeyBlob, pubs []*ecdsa.PublicKey, i int, d []byte) error {
	sig, err := tp.Sign(blobs[i], keyAuth, d, crypto.SHA256)
	if err != nil {
		return fmt.Errorf("Sign(key %d) = %w", i, err)
	}
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(pubs[i], d, r, s) {
		return fmt.Errorf("signature of key %d does not verify with its public key", i)
	}
	return nil
}

// TestKeyCache spreads 10,000 signatures over 20 keys, in runs of one to
// four uses of the same key, and checks that the TPM never runs out of
// object memory and never holds more than its slots.
func TestKeyCache(t *testing.T) {
	ops := 10000
	if testing.Short() {
		ops = 1000
	}
	forEachBackend(t, func(t *testing.T, tp *TPM, _ target) {
		blobs, pubs := p256Keys(t, tp, 20)
		rng := rand.New(rand.NewPCG(1, 2))
		d := digestOf(crypto.SHA256, "cached")
		start := time.Now()
		for i := 0; i < ops; {
			k := rng.IntN(len(blobs))
			for run := 1 + rng.IntN(4); run > 0 && i < ops; run-- {
				if err := signAndVerify(tp, blobs, pubs, k, d); err != nil {
					t.Fatalf("operation %d: %v", i, err)
				}
				i++
			}
			if i%1000 < 4 {
				assertWithinSlots(t, tp)
			}
		}
		t.Logf("%d signatures over %d keys in %v", ops, len(blobs), time.Since(start))
		assertClean(t, tp, 1+tp.CacheSize())
	})
}

func assertWithinSlots(t *testing.T, tp *TPM) {
	t.Helper()
	n, err := tp.LoadedTransients()
	if err != nil || n > tp.TransientSlots() || n > 1+tp.CacheSize() {
		t.Fatalf("LoadedTransients() = %d, %v, want at most %d (slots %d)", n, err, 1+tp.CacheSize(), tp.TransientSlots())
	}
}

// TestKeyCacheSpare checks that with the cache full, operations that load
// an object of their own still find a slot: Unseal, a long HMAC, and a
// sequence in Do that loads one object.
func TestKeyCacheSpare(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *TPM, _ target) {
		blobs, pubs := p256Keys(t, tp, tp.CacheSize()+1)
		mac, _ := createKey(t, tp, KeySpec{Kind: KindHMAC, Hash: crypto.SHA256, Sign: true})
		sealed, err := tp.Seal([]byte("secret"), []byte("pin"))
		if err != nil {
			t.Fatal(err)
		}
		d := digestOf(crypto.SHA256, "spare")
		for i := range blobs {
			if err := signAndVerify(tp, blobs, pubs, i, d); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := tp.Unseal(sealed, []byte("pin")); err != nil {
			t.Errorf("Unseal() with the cache full = %v", err)
		}
		if _, err := tp.HMAC(mac, keyAuth, make([]byte, 4*tp.MaxBuffer())); err != nil {
			t.Errorf("HMAC(long data) with the cache full = %v", err)
		}
		if err := tp.Do(loadOne); err != nil {
			t.Errorf("Do(load one object) with the cache full = %v", err)
		}
		assertWithinSlots(t, tp)
		if err := tp.FlushKeys(); err != nil {
			t.Fatalf("FlushKeys() = %v", err)
		}
		assertClean(t, tp, 1)
		if err := signAndVerify(tp, blobs, pubs, 0, d); err != nil {
			t.Errorf("after FlushKeys: %v", err)
		}
	})
}

// loadOne creates a primary key in the null hierarchy and flushes it.
func loadOne(tr transport.TPM) error {
	rsp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHNull, Auth: tpm2.PasswordAuth(nil)},
		InPublic:      tpm2.New2B(tpm2.ECCSRKTemplate),
	}.Execute(tr)
	if err != nil {
		return err
	}
	_, err = tpm2.FlushContext{FlushHandle: rsp.ObjectHandle}.Execute(tr)
	return err
}

// TestCloseFlushesKeys checks, on a bare connection to the same swtpm,
// that Close leaves no loaded key behind.
func TestCloseFlushesKeys(t *testing.T) {
	tg := target{tpmtest.StartSWTPM(t), ""}
	tp := openTPM(t, tg)
	blobs, pubs := p256Keys(t, tp, 2)
	for i := range blobs {
		if err := signAndVerify(tp, blobs, pubs, i, digestOf(crypto.SHA256, "m")); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := tp.LoadedTransients(); n != 1+tp.CacheSize() {
		t.Fatalf("LoadedTransients() = %d before Close, want %d", n, 1+tp.CacheSize())
	}
	if err := tp.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	b, err := openBackend(tg.spec, tg.dir)
	if err != nil {
		t.Fatal(err)
	}
	bare := &TPM{rw: b.rw, release: b.release}
	defer bare.abandon()
	if n, err := bare.LoadedTransients(); err != nil || n != 0 {
		t.Errorf("LoadedTransients() after Close = %d, %v, want 0", n, err)
	}
}

// TestConcurrentKeys signs with several keys from several goroutines while
// another seals and unseals, for the race detector and the slot count.
func TestConcurrentKeys(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *TPM, _ target) {
		blobs, pubs := p256Keys(t, tp, 6)
		d := digestOf(crypto.SHA256, "concurrent")
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for g := range 3 {
			wg.Go(func() {
				for i := range 30 {
					if err := signAndVerify(tp, blobs, pubs, (g*2+i)%len(blobs), d); err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			})
		}
		wg.Go(func() { errs <- sealLoop(tp, 9) })
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		assertWithinSlots(t, tp)
	})
}

// TestKeyCacheStaleHandle flushes a cached key, and then its session,
// behind the package's back: the next use finds out and loads the key, or
// starts a session, again.
func TestKeyCacheStaleHandle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *TPM, _ target) {
		blobs, pubs := p256Keys(t, tp, 1)
		d := digestOf(crypto.SHA256, "stale")
		if err := signAndVerify(tp, blobs, pubs, 0, d); err != nil {
			t.Fatal(err)
		}
		h := tp.keys.entries[0].h.Handle
		if _, err := (tpm2.FlushContext{FlushHandle: h}).Execute(tp); err != nil {
			t.Fatal(err)
		}
		if err := signAndVerify(tp, blobs, pubs, 0, d); err != nil {
			t.Errorf("Sign() with the cached key flushed = %v, want success", err)
		}
		if len(tp.keys.sessions) != 1 {
			t.Fatalf("%d sessions cached, want 1", len(tp.keys.sessions))
		}
		if _, err := (tpm2.FlushContext{FlushHandle: tp.keys.sessions[0].s.Handle()}).Execute(tp); err != nil {
			t.Fatal(err)
		}
		if err := signAndVerify(tp, blobs, pubs, 0, d); err != nil {
			t.Errorf("Sign() with the cached session flushed = %v, want success", err)
		}
		assertClean(t, tp, 2)
	})
}

// TestCachedSessionOwnsAuth clears the caller's auth value between two
// decryptions with parameter encryption: the cached session must have kept
// its own copy, or the second plaintext comes back scrambled (the session
// HMAC of a bound session leaves the auth value out, so nothing else would
// notice).
func TestCachedSessionOwnsAuth(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *TPM, _ target) {
		auth := []byte("an auth value the caller wipes")
		k, pub, err := tp.CreateKey(KeySpec{Kind: KindRSA, Bits: 2048, Decrypt: true}, auth)
		if err != nil {
			t.Fatal(err)
		}
		msg := []byte("twice")
		for i := range 2 {
			ct, _ := rsa.EncryptOAEP(crypto.SHA256.New(), crand.Reader, pub.(*rsa.PublicKey), msg, nil)
			a := bytes.Clone(auth)
			got, err := tp.RSADecrypt(k, a, ct, &rsa.OAEPOptions{Hash: crypto.SHA256})
			clear(a)
			if err != nil || !bytes.Equal(got, msg) {
				t.Errorf("decryption %d = %q, %v, want %q", i, got, err, msg)
			}
		}
	})
}
