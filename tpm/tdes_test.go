package tpm

import (
	"bytes"
	"crypto/des"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"tep.dev/tep/tpm/tpmtest"
)

// TDES is on swtpm (libtpms) and not on the go-tpm-tools simulator: the
// TDES tests check both answers.

func TestTDESCaps(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *TPM, tg target) {
		c := caps(t, tp)
		t.Logf("TDES %v %v", c.TDESBits, c.TDESModes)
		if tg.spec == "sim" {
			if len(c.TDESBits) != 0 || len(c.TDESModes) != 0 {
				t.Errorf("simulator: TDES %v %v, want none", c.TDESBits, c.TDESModes)
			}
			if _, _, err := tp.CreateKey(KeySpec{Kind: KindTDES, Bits: 192, Sign: true}, keyAuth); err == nil {
				t.Error("simulator: CreateKey(TDES) succeeded")
			}
			return
		}
		if !slices.Equal(c.TDESBits, []int{128, 192}) || !slices.Equal(c.TDESModes, []SymMode{ModeCBC, ModeECB}) {
			t.Errorf("swtpm: TDES %v %v, want [128 192] [CBC ECB]", c.TDESBits, c.TDESModes)
		}
	})
}

// createKnownTDES creates a TDES key whose value is key, given in the
// TPM2_Create's sensitive data with sensitiveDataOrigin clear (TPM 2.0
// Part 1, 27.2.3): only so that a test can compare with crypto/des.
func createKnownTDES(t *testing.T, tp *TPM, key []byte) KeyBlob {
	t.Helper()
	aes, err := keyTemplate(KeySpec{Kind: KindAES, Bits: 128, Sign: true, Decrypt: true}, true)
	if err != nil {
		t.Fatal(err)
	}
	attrs := aes.ObjectAttributes
	attrs.SensitiveDataOrigin = false
	pub, err := tdesPublic(8*len(key), attrs)
	if err != nil {
		t.Fatal(err)
	}
	var k KeyBlob
	err = tp.do(func(l locked) error {
		rsp, err := tpm2.Create{
			ParentHandle: tpm2.AuthHandle{Handle: l.t.srk.Handle, Name: l.t.srk.Name, Auth: tpm2.PasswordAuth(nil)},
			InSensitive: tpm2.TPM2BSensitiveCreate{Sensitive: &tpm2.TPMSSensitiveCreate{
				UserAuth: tpm2.TPM2BAuth{Buffer: keyAuth},
				Data:     tpm2.NewTPMUSensitiveCreate(&tpm2.TPM2BSensitiveData{Buffer: key}),
			}},
			InPublic: tpm2.BytesAs2B[tpm2.TPMTPublic](pub),
		}.Execute(l)
		if err != nil {
			return err
		}
		k = KeyBlob{Public: tpm2.Marshal(rsp.OutPublic), Private: tpm2.Marshal(rsp.OutPrivate)}
		return nil
	})
	if err != nil {
		t.Fatalf("creating a TDES key of a known value: %v", err)
	}
	return k
}

// TestTDESKnownKey checks the TPM's TDES against crypto/des, over several
// TPM commands (the buffer is 1 KiB) and across calls.
func TestTDESKnownKey(t *testing.T) {
	tp := openTPM(t, target{spec: tpmtest.StartSWTPM(t)})
	for _, bits := range caps(t, tp).TDESBits {
		key := make([]byte, bits/8)
		rand.Read(key)
		k := createKnownTDES(t, tp, key)
		if bits == 128 { // two-key TDES: K1 K2 K1
			key = append(key, key[:8]...)
		}
		b, err := des.NewTripleDESCipher(key)
		if err != nil {
			t.Fatal(err)
		}
		for _, mode := range []SymMode{ModeECB, ModeCBC} {
			for _, n := range []int{8, 1024, 3000} {
				checkSymCrypt(t, tp, fmt.Sprintf("TDES-%d-%v, %d bytes", bits, mode, n), k, b, mode, n)
			}
		}
	}
}

func TestTDESCreated(t *testing.T) {
	tp := openTPM(t, target{spec: tpmtest.StartSWTPM(t)})
	relaxDA(t, tp)
	data := make([]byte, 3000)
	rand.Read(data)
	iv, iv2 := bytes.Repeat([]byte{1}, tdesBlock), bytes.Repeat([]byte{2}, tdesBlock)
	for _, bits := range []int{128, 192} {
		k, pub := createKey(t, tp, KeySpec{Kind: KindTDES, Bits: bits, Sign: true, Decrypt: true})
		if pub != nil {
			t.Errorf("CreateKey(TDES-%d) public key = %T, want nil", bits, pub)
		}
		for _, mode := range []SymMode{ModeECB, ModeCBC} {
			name := fmt.Sprintf("TDES-%d-%v", bits, mode)
			first := iv
			if mode == ModeECB {
				first = nil
			}
			ct, next, err := tp.SymCrypt(k, keyAuth, false, mode, first, data)
			if err != nil || bytes.Equal(ct[:tdesBlock], data[:tdesBlock]) || len(ct) != len(data) {
				t.Fatalf("%s: SymCrypt(encrypt) = %d bytes, %v", name, len(ct), err)
			}
			if mode == ModeCBC && !bytes.Equal(next, ct[len(ct)-tdesBlock:]) {
				t.Errorf("%s: next IV %x, want the last ciphertext block", name, next)
			}
			if pt, _, err := tp.SymCrypt(k, keyAuth, true, mode, first, ct); err != nil || !bytes.Equal(pt, data) {
				t.Errorf("%s: SymCrypt(decrypt) = %v, got the plaintext back: %v", name, err, bytes.Equal(pt, data))
			}
			if mode == ModeECB {
				continue
			}
			if ct2, _, err := tp.SymCrypt(k, keyAuth, false, mode, iv2, data); err != nil || bytes.Equal(ct2[:tdesBlock], ct[:tdesBlock]) {
				t.Errorf("%s: another IV = %v, same first block: %v", name, err, bytes.Equal(ct2[:tdesBlock], ct[:tdesBlock]))
			}
			a, mid, err1 := tp.SymCrypt(k, keyAuth, false, mode, iv, data[:1000])
			b, _, err2 := tp.SymCrypt(k, keyAuth, false, mode, mid, data[1000:])
			if err := errors.Join(err1, err2); err != nil || !bytes.Equal(append(a, b...), ct) {
				t.Errorf("%s: in two calls = %v, same as one: %v", name, err, bytes.Equal(append(a, b...), ct))
			}
		}
	}
	k, _ := createKey(t, tp, KeySpec{Kind: KindTDES, Bits: 192, Sign: true})
	aes, _ := createKey(t, tp, KeySpec{Kind: KindAES, Bits: 128, Sign: true})
	for _, tc := range []struct {
		name    string
		k       KeyBlob
		decrypt bool
		iv      []byte
		data    []byte
		is      error
	}{
		{"AES-sized IV", k, false, make([]byte, aesBlock), data[:16], nil},
		{"partial block", k, false, iv, data[:12], nil},
		{"encrypt-only key decrypting", k, true, iv, data[:8], ErrUsage},
		{"AES key, TDES-sized IV", aes, false, iv, data[:16], nil},
	} {
		if _, _, err := tp.SymCrypt(tc.k, keyAuth, tc.decrypt, ModeCBC, tc.iv, tc.data); err == nil || tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("%s: SymCrypt() = %v, want error %v", tc.name, err, tc.is)
		}
	}
	for _, bits := range []int{0, 64, 256} {
		if _, _, err := tp.CreateKey(KeySpec{Kind: KindTDES, Bits: bits, Sign: true}, keyAuth); !errors.Is(err, ErrUnsupported) {
			t.Errorf("CreateKey(TDES-%d) = %v, want ErrUnsupported", bits, err)
		}
	}
	if _, err := tp.ImportKey(KeySpec{Kind: KindTDES, Sign: true}, make([]byte, 24), keyAuth); err == nil {
		t.Error("ImportKey(TDES) succeeded")
	}
}

// FuzzParseTDESPublic: a public blob that go-tpm cannot read goes through
// the hand-written TDES reader, which never panics and accepts only a
// TDES key of a known size whose attributes encode back the same.
func FuzzParseTDESPublic(f *testing.F) {
	tmpl, _ := createTemplate(KeySpec{Kind: KindTDES, Bits: 192, Sign: true})
	f.Add(tmpl.Bytes())
	f.Add([]byte{0, 0x25, 0, 0x0b, 0, 0, 0, 0x60, 0, 0, 0, 3, 0, 0xc0, 0, 0x10, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		area, bits, err := parseTDESPublic(b)
		if err != nil {
			return
		}
		if area.Type != tpm2.TPMAlgSymCipher || bits != 128 && bits != 192 {
			t.Errorf("parseTDESPublic(%x) = type %v, %d bits", b, area.Type, bits)
		}
		if !bytes.Equal(tpm2.Marshal(area.ObjectAttributes), b[4:8]) {
			t.Errorf("parseTDESPublic(%x): attributes do not encode back", b)
		}
	})
}
