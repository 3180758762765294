package bench

import (
	"bytes"
	"crypto/elliptic"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"tep.dev/tep/internal/swtpm"
	"tep.dev/tep/tpm"
)

// tcti is the TSS2 TCTI configuration that reaches sw, an swtpm on TCP.
func tcti(sw *swtpm.Process) string { return fmt.Sprintf("swtpm:host=127.0.0.1,port=%d", sw.Port) }

// rawTPM runs Crypto's workloads as bare go-tpm commands in this process,
// on an swtpm of its own, with the key already loaded and authorized by a
// password (no session to start, no HMAC, no parameter encryption): the
// TPM's own cost with no PKCS#11, link, server or session in between, the
// floor under TEP on swtpm. Package tpm only creates the keys (and, for
// key generation, times TPM2_Create, whose salted session costs little
// beside the key search).
type rawTPM struct {
	sw              *swtpm.Process
	t               *tpm.TPM
	rsa, ecc, aes   tpm.KeyBlob
	piece           int              // the TPM's largest buffer, in AES blocks
	loaded          *tpm.KeyBlob     // the key now loaded at handle, if any
	handle          tpm2.NamedHandle // of loaded
	digest, iv, buf []byte
}

func startRawTPM(dir string, nice int) (*rawTPM, error) {
	sw, err := startSWTPM(dir, "swtpm-raw", nice, false)
	if err != nil {
		return nil, err
	}
	r := &rawTPM{sw: sw, iv: make([]byte, 16), buf: bytes.Repeat([]byte{0x5a}, aesBulk)}
	if r.t, err = tpm.Open(sw.Spec, filepath.Join(dir, "swtpm-raw")); err != nil {
		sw.Stop()
		return nil, err
	}
	caps, err := r.t.Algorithms()
	if err != nil {
		r.stop()
		return nil, err
	}
	r.piece = caps.MaxBuffer / 16 * 16
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
	if r.loaded != nil {
		r.t.Do(func(tr transport.TPM) error {
			_, err := tpm2.FlushContext{FlushHandle: r.handle.Handle}.Execute(tr)
			return err
		})
	}
	r.t.Close()
	r.sw.Stop()
}

func (r *rawTPM) label() string { return SystemRawTPM }

func (r *rawTPM) has(w string) bool { return r.call(w) != nil }

// use runs f with k loaded (loading it, in place of the key loaded
// before, if need be) and authorized by its empty password.
func (r *rawTPM) use(k *tpm.KeyBlob, f func(tr transport.TPM, key tpm2.AuthHandle) error) error {
	return r.t.Do(func(tr transport.TPM) error {
		if r.loaded != k {
			if r.loaded != nil {
				if _, err := (tpm2.FlushContext{FlushHandle: r.handle.Handle}).Execute(tr); err != nil {
					return err
				}
				r.loaded = nil
			}
			pub, err := tpm2.Unmarshal[tpm2.TPM2BPublic](k.Public)
			if err != nil {
				return err
			}
			priv, err := tpm2.Unmarshal[tpm2.TPM2BPrivate](k.Private)
			if err != nil {
				return err
			}
			srk, _ := r.t.SRK()
			rsp, err := tpm2.Load{
				ParentHandle: tpm2.AuthHandle{Handle: srk.Handle, Name: srk.Name, Auth: tpm2.PasswordAuth(nil)},
				InPrivate:    *priv,
				InPublic:     *pub,
			}.Execute(tr)
			if err != nil {
				return err
			}
			r.loaded, r.handle = k, tpm2.NamedHandle{Handle: rsp.ObjectHandle, Name: rsp.Name}
		}
		return f(tr, tpm2.AuthHandle{Handle: r.handle.Handle, Name: r.handle.Name, Auth: tpm2.PasswordAuth(nil)})
	})
}

// sign is TPM2_Sign of digest with k under scheme alg and SHA-256,
// marshalled by hand as the token's is (tpm.SignDigest).
func (r *rawTPM) sign(k *tpm.KeyBlob, alg tpm2.TPMAlgID, digest []byte) error {
	details := tpm2.NewTPMUSigScheme(alg, &tpm2.TPMSSchemeHash{HashAlg: tpm2.TPMAlgSHA256})
	return r.use(k, func(tr transport.TPM, key tpm2.AuthHandle) error {
		_, err := tpm.SignDigest(tr, key, tpm2.TPMTSigScheme{Scheme: alg, Details: details}, digest)
		return err
	})
}

// cbc runs TPM2_EncryptDecrypt2 in AES-CBC over data in the TPM's largest
// pieces, the IV chained, and returns the last IV. The command is
// marshalled by hand (tpm.EncryptDecrypt2), as the token's is: go-tpm's
// reflection walks the buffer a byte at a time and made this raw figure
// about 15 times slower than the TPM itself.
func (r *rawTPM) cbc(iv, data []byte) ([]byte, error) {
	err := r.use(&r.aes, func(tr transport.TPM, key tpm2.AuthHandle) error {
		for off := 0; off < len(data); off += r.piece {
			_, next, err := tpm.EncryptDecrypt2(tr, key, false, tpm2.TPMAlgCBC, iv, data[off:min(off+r.piece, len(data))])
			if err != nil {
				return err
			}
			iv = next
		}
		return nil
	})
	return iv, err
}

// call returns the operation of workload w, nil for one a TPM does not
// do.
func (r *rawTPM) call(w string) func() error {
	switch w {
	case WorkRSASign:
		return func() error {
			// CKM_SHA256_RSA_PKCS hashes in the token: so does this.
			d := sha256.Sum256(r.buf[:64])
			return r.sign(&r.rsa, tpm2.TPMAlgRSASSA, d[:])
		}
	case WorkECDSASign:
		return func() error { return r.sign(&r.ecc, tpm2.TPMAlgECDSA, r.digest) }
	case WorkAES:
		return func() error {
			_, err := r.cbc(r.iv, r.buf)
			return err
		}
	case WorkAESParts:
		return func() error {
			iv := r.iv
			for off := 0; off < aesBulk; off += aesPart {
				var err error
				if iv, err = r.cbc(iv, r.buf[off:off+aesPart]); err != nil {
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
