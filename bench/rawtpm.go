package bench

import (
	"bytes"
	"crypto"
	"crypto/elliptic"
	"crypto/sha256"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"tep.dev/tep/tpm"
)

// swtpm is a running swtpm and its spec for tpm.Open and tepd --tpm.
type swtpm struct {
	*proc
	spec string
	port int // of its TPM commands on 127.0.0.1
}

// tcti is the TSS2 TCTI configuration that reaches the swtpm.
func (s *swtpm) tcti() string { return fmt.Sprintf("swtpm:host=127.0.0.1,port=%d", s.port) }

// waitListen waits until addr accepts connections, for at most 10 s or
// until p exits.
func waitListen(p *proc, addr string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		if p.exited() || time.Now().After(deadline) {
			return p.failure("waiting for " + addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rawTPM runs Crypto's workloads with package tpm in this process, on an
// swtpm of its own, with keys created once and kept loaded by the
// package's key cache: the TPM's own cost with no PKCS#11, link or
// server in between.
type rawTPM struct {
	sw              *swtpm
	t               *tpm.TPM
	rsa, ecc, aes   tpm.KeyBlob
	digest, iv, buf []byte
}

func startRawTPM(dir string) (*rawTPM, error) {
	sw, err := startSWTPM(dir, "swtpm-raw")
	if err != nil {
		return nil, err
	}
	r := &rawTPM{sw: sw, iv: make([]byte, 16), buf: bytes.Repeat([]byte{0x5a}, aesBulk)}
	if r.t, err = tpm.Open(sw.spec, filepath.Join(dir, "swtpm-raw")); err != nil {
		sw.stop()
		return nil, err
	}
	for _, k := range []struct {
		blob *tpm.KeyBlob
		spec tpm.KeySpec
	}{
		{&r.rsa, tpm.KeySpec{Kind: tpm.KindRSA, Bits: 2048, Sign: true}},
		{&r.ecc, tpm.KeySpec{Kind: tpm.KindECC, Curve: elliptic.P256(), Sign: true}},
		{&r.aes, tpm.KeySpec{Kind: tpm.KindAES, Bits: 256, Sign: true}},
	} {
		if *k.blob, _, err = r.t.CreateKey(k.spec, nil); err != nil {
			r.stop()
			return nil, err
		}
	}
	sum := sha256.Sum256(bytes.Repeat([]byte("m"), 64))
	r.digest = sum[:]
	return r, nil
}

func (r *rawTPM) stop() {
	r.t.Close()
	r.sw.stop()
}

func (r *rawTPM) label() string { return SystemRawTPM }

func (r *rawTPM) has(w string) bool { return r.call(w) != nil }

// call returns the operation of workload w, nil for one a TPM does not
// do.
func (r *rawTPM) call(w string) func() error {
	switch w {
	case WorkRSASign:
		return func() error {
			// CKM_SHA256_RSA_PKCS hashes in the token: so does this.
			d := sha256.Sum256(r.buf[:64])
			_, err := r.t.Sign(r.rsa, nil, d[:], crypto.SHA256)
			return err
		}
	case WorkECDSASign:
		return func() error {
			_, err := r.t.Sign(r.ecc, nil, r.digest, crypto.SHA256)
			return err
		}
	case WorkAES:
		return func() error {
			_, _, err := r.t.SymCrypt(r.aes, nil, false, tpm.ModeCBC, r.iv, r.buf)
			return err
		}
	case WorkAESParts:
		return func() error {
			iv := r.iv
			for off := 0; off < aesBulk; off += aesPart {
				var err error
				if _, iv, err = r.t.SymCrypt(r.aes, nil, false, tpm.ModeCBC, iv, r.buf[off:off+aesPart]); err != nil {
					return err
				}
			}
			return nil
		}
	case WorkRSAKeygen:
		return func() error {
			_, _, err := r.t.CreateKey(tpm.KeySpec{Kind: tpm.KindRSA, Bits: 2048, Sign: true}, nil)
			return err
		}
	}
	return nil
}

// request times req.Calls operations, stopping at the first error, as a
// host does.
func (r *rawTPM) request(req hostRequest) (hostReply, error) {
	call := r.call(req.Workload)
	if call == nil {
		return hostReply{Err: fmt.Sprintf("no TPM operation for %q", req.Workload)}, nil
	}
	rep := hostReply{Ns: make([]int64, 0, req.Calls)}
	for range req.Calls {
		t := time.Now()
		err := call()
		d := time.Since(t)
		if err != nil {
			rep.Err = err.Error()
			break
		}
		rep.Ns = append(rep.Ns, int64(d))
	}
	return rep, nil
}
