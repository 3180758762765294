package device

import (
	"crypto/cipher"
	"errors"
	"fmt"
	"slices"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"tep.dev/tep/provisioning"
	"tep.dev/tep/tpm"
)

// block is AES's block size, and the size of a CTR counter block.
const block = 16

// CTR is AES-CTR with the configuration key at provisioning.AESKeyHandle,
// as a cipher.Stream: the counter block is the whole 16-byte IV, counted
// up big-endian, as crypto/cipher.NewCTR and OpenSSL's aes-*-ctr do. It
// is not safe for concurrent use.
//
// XORKeyStream cannot return an error, so a TPM failure is kept: every
// later XORKeyStream zeroes its output, and Err returns the failure.
// Callers check Err after the last XORKeyStream.
type CTR struct {
	t      *tpm.TPM
	handle tpm2.TPMHandle
	ecb    bool // make the keystream with ECB: the TPM lacks CTR
	piece  int  // bytes per TPM2_EncryptDecrypt2, whole blocks
	ctr    [block]byte
	ks     [block]byte // keystream of a block begun but not used up
	ksUsed int         // bytes of ks used; block when none is left
	ctrs   []byte      // ECB: the counter blocks of one piece
	err    error
}

// NewCTR returns AES-CTR with the persistent key at
// provisioning.AESKeyHandle and initial counter block iv (16 bytes); the
// returned stream is a *CTR (see its Err). Data goes to the TPM by
// TPM2_EncryptDecrypt2 (TPM 2.0 Part 3, 15.3) in pieces of the TPM's input
// buffer; where the TPM lacks CTR mode, the keystream is made by
// encrypting the counter blocks in ECB mode and XORed here. Commands are
// authorized by the key's empty password: the key has no secret
// authorization, and parameter encryption would cost more than the
// command. A missing key is reported with an error wrapping
// ErrNotProvisioned.
func NewCTR(t *tpm.TPM, iv []byte) (cipher.Stream, error) {
	return newCTR(t, iv, false)
}

// newCTR is NewCTR; forceECB makes the keystream with ECB even where the
// TPM has CTR, for the tests of that path.
func newCTR(t *tpm.TPM, iv []byte, forceECB bool) (*CTR, error) {
	if len(iv) != block {
		return nil, fmt.Errorf("AES-CTR: IV of %d bytes, want %d", len(iv), block)
	}
	caps, err := t.Algorithms()
	if err != nil {
		return nil, err
	}
	hasCTR := slices.Contains(caps.AESModes, tpm.ModeCTR) && !forceECB
	if !hasCTR && !slices.Contains(caps.AESModes, tpm.ModeECB) {
		return nil, fmt.Errorf("AES-CTR: %w: the TPM has neither CTR nor ECB mode", tpm.ErrUnsupported)
	}
	if err := checkAESKey(t, !hasCTR); err != nil {
		return nil, err
	}
	c := &CTR{t: t, handle: provisioning.AESKeyHandle, ecb: !hasCTR, piece: t.MaxBuffer() / block * block, ksUsed: block}
	copy(c.ctr[:], iv)
	return c, nil
}

// checkAESKey checks that the object at AESKeyHandle is an AES key that
// can run the mode needed: decryption for CTR, encryption for the ECB
// keystream.
func checkAESKey(t *tpm.TPM, encrypt bool) error {
	area, err := readPersistent(t, provisioning.AESKeyHandle, "run `tep-provision device`")
	if err != nil {
		return err
	}
	sym, err := area.Parameters.SymDetail()
	if area.Type != tpm2.TPMAlgSymCipher || err != nil || sym.Sym.Algorithm != tpm2.TPMAlgAES {
		return fmt.Errorf("handle 0x%08x is not an AES key", uint32(provisioning.AESKeyHandle))
	}
	a := area.ObjectAttributes
	if a.Restricted || encrypt && !a.SignEncrypt || !encrypt && !a.Decrypt {
		return fmt.Errorf("%w: the AES key at 0x%08x does not allow this mode", tpm.ErrUsage, uint32(provisioning.AESKeyHandle))
	}
	return nil
}

// readPersistent reads the public area of a persistent object; a missing
// one is ErrNotProvisioned, with fix in the message.
func readPersistent(t *tpm.TPM, h tpm2.TPMHandle, fix string) (*tpm2.TPMTPublic, error) {
	var area *tpm2.TPMTPublic
	err := t.Do(func(tr transport.TPM) error {
		rsp, err := tpm2.ReadPublic{ObjectHandle: h}.Execute(tr)
		if err != nil {
			return err
		}
		area, err = rsp.OutPublic.Contents()
		return err
	})
	if errors.Is(err, tpm2.TPMRCHandle) {
		return nil, fmt.Errorf("%w: nothing at handle 0x%08x; %s", ErrNotProvisioned, uint32(h), fix)
	}
	if err != nil {
		return nil, fmt.Errorf("reading handle 0x%08x: %w", uint32(h), err)
	}
	return area, nil
}

// Err returns the TPM failure that stopped the stream, or nil.
func (c *CTR) Err() error { return c.err }

// XORKeyStream XORs each byte of src with the next byte of the keystream
// into dst, which may be src itself. dst must be at least as long as src.
func (c *CTR) XORKeyStream(dst, src []byte) {
	if len(dst) < len(src) {
		c.fail(fmt.Errorf("AES-CTR: output of %d bytes for %d", len(dst), len(src)))
		clear(dst)
		return
	}
	dst = dst[:len(src)]
	all := dst
	if c.err != nil {
		clear(all)
		return
	}
	// The rest of a block begun in an earlier call.
	n := min(len(src), block-c.ksUsed)
	for i := range n {
		dst[i] = src[i] ^ c.ks[c.ksUsed+i]
	}
	c.ksUsed += n
	dst, src = dst[n:], src[n:]
	whole := len(src) / block * block
	for off := 0; off < whole && c.err == nil; off += c.piece {
		m := min(whole-off, c.piece)
		c.crypt(dst[off:off+m], src[off:off+m])
	}
	if tail := len(src) - whole; tail > 0 && c.err == nil {
		// The tail, padded with zeros: where the padding was, the result
		// is the keystream itself, kept for the next call.
		var b [block]byte
		copy(b[:], src[whole:])
		c.crypt(b[:], b[:])
		copy(dst[whole:], b[:tail])
		c.ks, c.ksUsed = b, tail
	}
	if c.err != nil {
		clear(all)
	}
}

func (c *CTR) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

// crypt runs whole blocks of src through the TPM into dst (of the same
// length, at most one piece) and moves the counter on.
func (c *CTR) crypt(dst, src []byte) {
	if !c.ecb {
		out, next, err := c.t.EncryptDecryptPersistent(c.handle, true, tpm2.TPMAlgCTR, c.ctr[:], src)
		if err != nil {
			c.fail(fmt.Errorf("AES-CTR with the key at 0x%08x: %w", uint32(c.handle), err))
			return
		}
		if len(out) != len(src) || len(next) != block {
			c.fail(fmt.Errorf("AES-CTR: the TPM returned %d bytes and a counter of %d for %d bytes", len(out), len(next), len(src)))
			return
		}
		copy(dst, out)
		copy(c.ctr[:], next)
		return
	}
	c.ctrs = c.ctrs[:0]
	for range len(src) / block {
		c.ctrs = append(c.ctrs, c.ctr[:]...)
		incr(&c.ctr)
	}
	out, _, err := c.t.EncryptDecryptPersistent(c.handle, false, tpm2.TPMAlgECB, nil, c.ctrs)
	if err != nil {
		c.fail(fmt.Errorf("AES-ECB with the key at 0x%08x: %w", uint32(c.handle), err))
		return
	}
	if len(out) != len(src) {
		c.fail(fmt.Errorf("AES-ECB: the TPM returned %d bytes for %d", len(out), len(src)))
		return
	}
	for i := range src {
		dst[i] = src[i] ^ out[i]
	}
}

// incr adds one to a big-endian counter block, wrapping at 2^128.
func incr(ctr *[block]byte) {
	for i := block - 1; i >= 0; i-- {
		ctr[i]++
		if ctr[i] != 0 {
			return
		}
	}
}
