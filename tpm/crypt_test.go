package tpm

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
	"testing"
)

func TestRSADecrypt(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *TPM, _ target) {
		names, blobs, pubs, _ := rsaKeys(t, tp, KeySpec{Decrypt: true})
		oaepHashes := []crypto.Hash{crypto.SHA256}
		if slices.Contains(caps(t, tp).Hashes, crypto.SHA1) {
			oaepHashes = append(oaepHashes, crypto.SHA1)
		}
		msg := []byte("a session key, say")
		for i, k := range blobs {
			//lint:ignore SA1019 PKCS#11's CKM_RSA_PKCS decryption is what is tested.
			ct, err := rsa.EncryptPKCS1v15(rand.Reader, pubs[i], msg)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := tp.RSADecrypt(k, keyAuth, ct, nil); err != nil || !bytes.Equal(got, msg) {
				t.Errorf("%s: RSADecrypt(PKCS#1 v1.5) = %q, %v, want %q", names[i], got, err, msg)
			}
			for _, h := range oaepHashes {
				for _, label := range [][]byte{nil, []byte("label\x00")} {
					ct, err := rsa.EncryptOAEP(h.New(), rand.Reader, pubs[i], msg, label)
					if err != nil {
						t.Fatal(err)
					}
					got, err := tp.RSADecrypt(k, keyAuth, ct, &rsa.OAEPOptions{Hash: h, Label: label})
					if err != nil || !bytes.Equal(got, msg) {
						t.Errorf("%s: RSADecrypt(OAEP %v, label %q) = %q, %v, want %q", names[i], h, label, got, err, msg)
					}
				}
			}
		}
		k := blobs[0]
		ct, _ := rsa.EncryptOAEP(crypto.SHA256.New(), rand.Reader, pubs[0], msg, nil)
		if _, err := tp.RSADecrypt(k, keyAuth, ct, nil); !errors.Is(err, ErrDecrypt) {
			t.Errorf("RSADecrypt(OAEP ciphertext as PKCS#1 v1.5) = %v, want ErrDecrypt", err)
		}
		if _, err := tp.RSADecrypt(k, keyAuth, ct, &rsa.OAEPOptions{Hash: crypto.SHA256, Label: []byte("x\x00")}); !errors.Is(err, ErrDecrypt) {
			t.Errorf("RSADecrypt(OAEP, another label) = %v, want ErrDecrypt", err)
		}
		if got, err := tp.RSADecrypt(k, keyAuth, ct, &rsa.OAEPOptions{Hash: crypto.SHA256}); err != nil || !bytes.Equal(got, msg) {
			t.Errorf("RSADecrypt() after bad paddings = %q, %v, want %q", got, err, msg)
		}
		// OAEP the TPM cannot check itself: decrypted raw, decoded here.
		for _, o := range []rsa.OAEPOptions{
			{Hash: crypto.SHA256, Label: []byte("label")},
			{Hash: crypto.SHA256, MGFHash: crypto.SHA1},
			{Hash: crypto.SHA1, MGFHash: crypto.SHA512, Label: []byte("abc")},
		} {
			ct, err := rsa.EncryptOAEPWithOptions(rand.Reader, pubs[0], msg, &o)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := tp.RSADecrypt(k, keyAuth, ct, &o); err != nil || !bytes.Equal(got, msg) {
				t.Errorf("RSADecrypt(OAEP %v, MGF1 %v, label %q) = %q, %v, want %q", o.Hash, o.MGFHash, o.Label, got, err, msg)
			}
			wrong := o
			wrong.Label = []byte("other")
			if _, err := tp.RSADecrypt(k, keyAuth, ct, &wrong); !errors.Is(err, ErrDecrypt) {
				t.Errorf("RSADecrypt(OAEP %v, MGF1 %v, wrong label) = %v, want ErrDecrypt", o.Hash, o.MGFHash, err)
			}
		}
		if _, err := tp.RSADecrypt(k, keyAuth, pubs[0].N.Bytes(), &rsa.OAEPOptions{Hash: crypto.SHA256, Label: []byte("l")}); !errors.Is(err, ErrDecrypt) {
			t.Errorf("RSADecrypt(raw, ciphertext = modulus) = %v, want ErrDecrypt", err)
		}
		signOnly, _ := createKey(t, tp, KeySpec{Kind: KindRSA, Bits: 2048, Sign: true})
		if _, err := tp.RSADecrypt(signOnly, keyAuth, ct, nil); !errors.Is(err, ErrUsage) {
			t.Errorf("RSADecrypt(sign-only key) = %v, want ErrUsage", err)
		}
	})
}

var symModeTests = []struct {
	mode       SymMode
	enc, dec   func(b cipher.Block, iv []byte) cipher.BlockMode
	stream     func(b cipher.Block, iv []byte, decrypt bool) cipher.Stream
	needsBlock bool
}{
	{mode: ModeCBC, enc: cipher.NewCBCEncrypter, dec: cipher.NewCBCDecrypter, needsBlock: true},
	{mode: ModeECB, enc: newECB, dec: newECBDec, needsBlock: true},
	{mode: ModeCTR, stream: func(b cipher.Block, iv []byte, _ bool) cipher.Stream { return cipher.NewCTR(b, iv) }},
	{mode: ModeCFB, stream: newCFB},
}

// goCrypt is what Go's crypto makes of data with block cipher b: the
// reference for SymCrypt.
func goCrypt(b cipher.Block, mode SymMode, decrypt bool, iv, data []byte) []byte {
	out := make([]byte, len(data))
	for _, m := range symModeTests {
		switch {
		case m.mode != mode:
		case m.stream != nil:
			m.stream(b, iv, decrypt).XORKeyStream(out, data)
		case decrypt:
			m.dec(b, iv).CryptBlocks(out, data)
		default:
			m.enc(b, iv).CryptBlocks(out, data)
		}
	}
	return out
}

func TestSymCrypt(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *TPM, _ target) {
		c := caps(t, tp)
		for _, bits := range []int{128, 256} {
			key := make([]byte, bits/8)
			rand.Read(key)
			k := importKey(t, tp, KeySpec{Kind: KindAES, Sign: true, Decrypt: true}, key)
			for _, m := range symModeTests {
				if !slices.Contains(c.AESModes, m.mode) {
					t.Logf("AES-%v not supported", m.mode)
					continue
				}
				for _, n := range []int{16, 1024, 64<<10 + 16} {
					name := fmt.Sprintf("AES-%d-%v, %d bytes", bits, m.mode, n)
					b, _ := aes.NewCipher(key)
					checkSymCrypt(t, tp, name, k, b, m.mode, n)
				}
			}
		}
	})
}

func checkSymCrypt(t *testing.T, tp *TPM, name string, k KeyBlob, b cipher.Block, mode SymMode, n int) {
	t.Helper()
	data := make([]byte, n)
	rand.Read(data)
	block := b.BlockSize()
	iv := make([]byte, block)
	if mode == ModeECB {
		iv = nil
	} else {
		rand.Read(iv)
	}
	want := goCrypt(b, mode, false, iv, data)
	got, next, err := tp.SymCrypt(k, keyAuth, false, mode, iv, data)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s: SymCrypt(encrypt) = %v, output equal to Go's: %v", name, err, bytes.Equal(got, want))
	}
	back, _, err := tp.SymCrypt(k, keyAuth, true, mode, iv, got)
	if err != nil || !bytes.Equal(back, data) {
		t.Errorf("%s: SymCrypt(decrypt) = %v, got the plaintext back: %v", name, err, bytes.Equal(back, data))
	}
	if n < 2*block {
		return
	}
	// Two calls, the second continuing from the first's nextIV, give what
	// one call gives.
	cut := n/2/block*block + block
	first, mid, err := tp.SymCrypt(k, keyAuth, false, mode, iv, data[:cut])
	if err != nil {
		t.Fatalf("%s: SymCrypt(first part) = %v", name, err)
	}
	second, last, err := tp.SymCrypt(k, keyAuth, false, mode, mid, data[cut:])
	if err != nil || !bytes.Equal(append(first, second...), want) || !bytes.Equal(last, next) {
		t.Errorf("%s: SymCrypt in two calls = %v, same output: %v, same next IV: %v", name, err, bytes.Equal(append(first, second...), want), bytes.Equal(last, next))
	}
}

func TestSymCryptCreated(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *TPM, _ target) {
		relaxDA(t, tp)
		k, pub := createKey(t, tp, KeySpec{Kind: KindAES, Bits: 256, Sign: true, Decrypt: true})
		if pub != nil {
			t.Errorf("CreateKey(AES) public key = %T, want nil", pub)
		}
		data, iv := bytes.Repeat([]byte("sixteen bytes!!!"), 100), make([]byte, aesBlock)
		ct, _, err := tp.SymCrypt(k, keyAuth, false, ModeCBC, iv, data)
		if err != nil || bytes.Equal(ct, data) {
			t.Fatalf("SymCrypt(encrypt) = %v", err)
		}
		if pt, _, err := tp.SymCrypt(k, keyAuth, true, ModeCBC, iv, ct); err != nil || !bytes.Equal(pt, data) {
			t.Errorf("SymCrypt(decrypt) = %v, got the plaintext back: %v", err, bytes.Equal(pt, data))
		}
		encOnly, _ := createKey(t, tp, KeySpec{Kind: KindAES, Bits: 128, Sign: true})
		tests := []struct {
			name    string
			k       KeyBlob
			auth    []byte
			decrypt bool
			mode    SymMode
			iv      []byte
			data    []byte
			is      error
		}{
			{"wrong auth", k, nil, false, ModeCBC, iv, data, ErrAuthFail},
			{"encrypt-only key decrypting", encOnly, keyAuth, true, ModeCBC, iv, data, ErrUsage},
			{"CBC, partial block", k, keyAuth, false, ModeCBC, iv, data[:17], nil},
			{"ECB with an IV", k, keyAuth, false, ModeECB, iv, data, nil},
			{"short IV", k, keyAuth, false, ModeCTR, iv[:8], data, nil},
			{"unknown mode", k, keyAuth, false, SymMode(99), iv, data, ErrUnsupported},
		}
		for _, tc := range tests {
			_, _, err := tp.SymCrypt(tc.k, tc.auth, tc.decrypt, tc.mode, tc.iv, tc.data)
			if err == nil || tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("%s: SymCrypt() = %v, want error %v", tc.name, err, tc.is)
			}
		}
	})
}

func TestHMAC(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *TPM, _ target) {
		for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384} {
			for _, keyLen := range []int{16, h.Size(), 200} {
				key := make([]byte, keyLen)
				rand.Read(key)
				k := importKey(t, tp, KeySpec{Kind: KindHMAC, Hash: h, Sign: true}, key)
				for _, n := range []int{0, 100, 1024, 1025, 5000} {
					data := make([]byte, n)
					rand.Read(data)
					mac := hmac.New(h.New, key)
					mac.Write(data)
					want := mac.Sum(nil)
					got, err := tp.HMAC(k, keyAuth, data)
					if err != nil || !bytes.Equal(got, want) {
						t.Errorf("HMAC-%v, %d-byte key, %d bytes: HMAC() = %x, %v, want %x", h, keyLen, n, got, err, want)
					}
				}
			}
		}
		k, _ := createKey(t, tp, KeySpec{Kind: KindHMAC, Hash: crypto.SHA256, Sign: true})
		a, err1 := tp.HMAC(k, keyAuth, []byte("data"))
		b, err2 := tp.HMAC(k, keyAuth, []byte("data"))
		if err1 != nil || err2 != nil || len(a) != 32 || !bytes.Equal(a, b) {
			t.Errorf("HMAC() of a created key twice = %x, %v and %x, %v, want the same 32 bytes", a, err1, b, err2)
		}
		if _, err := tp.HMAC(k, keyAuth, make([]byte, 3000)); err != nil {
			t.Errorf("HMAC(3000 bytes) = %v", err)
		}
		assertClean(t, tp, 1+tp.CacheSize())
	})
}

// ecb is ECB, which crypto/cipher leaves out on purpose.
type ecb struct {
	b       cipher.Block
	decrypt bool
}

func newECB(b cipher.Block, _ []byte) cipher.BlockMode    { return ecb{b, false} }
func newECBDec(b cipher.Block, _ []byte) cipher.BlockMode { return ecb{b, true} }

func (e ecb) BlockSize() int { return e.b.BlockSize() }

func (e ecb) CryptBlocks(dst, src []byte) {
	f := e.b.Encrypt
	if e.decrypt {
		f = e.b.Decrypt
	}
	n := e.b.BlockSize()
	for i := 0; i < len(src); i += n {
		f(dst[i:i+n], src[i:i+n])
	}
}

// cfb is CFB-128 (NIST SP 800-38A, 6.3), built from the block cipher
// because crypto/cipher deprecates its own.
type cfb struct {
	b       cipher.Block
	reg     []byte
	decrypt bool
}

func newCFB(b cipher.Block, iv []byte, decrypt bool) cipher.Stream {
	return &cfb{b: b, reg: bytes.Clone(iv), decrypt: decrypt}
}

func (c *cfb) XORKeyStream(dst, src []byte) {
	pad := make([]byte, aesBlock)
	for i := 0; i < len(src); i += aesBlock {
		c.b.Encrypt(pad, c.reg)
		n := min(aesBlock, len(src)-i)
		in := bytes.Clone(src[i : i+n])
		for j := range n {
			dst[i+j] = in[j] ^ pad[j]
		}
		if c.decrypt {
			copy(c.reg, in)
		} else {
			copy(c.reg, dst[i:i+n])
		}
	}
}
