package server

import (
	"bytes"
	"testing"

	"tep.dev/tep/p11"
)

// TestAESInTheTPM: keys made in the TPM encrypt and decrypt in every mode,
// single-part and in parts, and refuse what PKCS#11 says to refuse.
func TestAESInTheTPM(t *testing.T) {
	f := newFixture(t, "sim")
	c := f.dial(t)
	s, _ := c.OpenSession(1, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	gen := p11.Mechanism{Type: p11.CKM_AES_KEY_GEN}
	_, err := c.GenerateKey(s, gen, []p11.Attribute{attr(p11.CKA_VALUE_LEN, p11.Ulong(32))})
	wantRV(t, "AES key before login", err, p11.CKR_USER_NOT_LOGGED_IN)
	c.Login(s, p11.CKU_USER, []byte(userPIN))
	k256, err := c.GenerateKey(s, gen, []p11.Attribute{attr(p11.CKA_VALUE_LEN, p11.Ulong(32)), attr(p11.CKA_LABEL, []byte("aes"))})
	if err != nil {
		t.Fatal(err)
	}
	k128, err := c.GenerateKey(s, gen, []p11.Attribute{attr(p11.CKA_VALUE_LEN, p11.Ulong(16))})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GenerateKey(s, gen, []p11.Attribute{attr(p11.CKA_VALUE_LEN, p11.Ulong(24))})
	wantRV(t, "AES-192, which the TPM lacks", err, p11.CKR_KEY_SIZE_RANGE)
	v, err := c.AttributeValues(s, k256, []uint64{p11.CKA_VALUE, p11.CKA_VALUE_LEN})
	wantRV(t, "reading an AES key's value", err, p11.CKR_ATTRIBUTE_SENSITIVE)
	if string(v[1].Value) != string(p11.Ulong(32)) {
		t.Errorf("CKA_VALUE_LEN = %x", v[1].Value)
	}

	iv := bytes.Repeat([]byte{7}, 16)
	ctr := p11.CTRParams{CounterBits: 128}
	copy(ctr.Block[:], iv)
	data := make([]byte, 3*65536+48) // more than one TPM turn
	for i := range data {
		data[i] = byte(i * 13)
	}
	for _, key := range []uint64{k256, k128} {
		for _, tt := range []struct {
			name string
			mech p11.Mechanism
			data []byte
		}{
			{"ECB", p11.Mechanism{Type: p11.CKM_AES_ECB}, data},
			{"CBC", p11.Mechanism{Type: p11.CKM_AES_CBC, Param: iv}, data},
			{"CBC_PAD", p11.Mechanism{Type: p11.CKM_AES_CBC_PAD, Param: iv}, data[:1000]},
			{"CTR", p11.Mechanism{Type: p11.CKM_AES_CTR, Param: ctr.Encode()}, data},
		} {
			if err := c.CryptInit(false, s, tt.mech, key); err != nil {
				t.Fatalf("%s: EncryptInit: %v", tt.name, err)
			}
			_, n, err := c.Crypt(false, 0, s, tt.data, 3)
			wantRV(t, tt.name+": Encrypt into a short buffer", err, p11.CKR_BUFFER_TOO_SMALL)
			ct, _, err := c.Crypt(false, 0, s, tt.data, int64(n))
			if err != nil {
				t.Fatalf("%s: Encrypt: %v", tt.name, err)
			}
			if bytes.Equal(ct[:64], tt.data[:64]) {
				t.Fatalf("%s: ciphertext equals plaintext", tt.name)
			}
			// The same in parts of odd sizes, with a short buffer in the
			// middle that must leave the operation alive.
			c.CryptInit(false, s, tt.mech, key)
			var parts []byte
			for i, chunk := range [][]byte{tt.data[:5], tt.data[5:700], tt.data[700:]} {
				if i == 1 {
					_, _, err := c.Crypt(false, 1, s, chunk, 0)
					if len(chunk)+5 >= 16 {
						wantRV(t, tt.name+": EncryptUpdate into a short buffer", err, p11.CKR_BUFFER_TOO_SMALL)
					}
				}
				out, _, err := c.Crypt(false, 1, s, chunk, int64(len(chunk)+32))
				if err != nil {
					t.Fatalf("%s: EncryptUpdate: %v", tt.name, err)
				}
				parts = append(parts, out...)
			}
			tail, _, err := c.Crypt(false, 2, s, nil, 32)
			if err != nil {
				t.Fatalf("%s: EncryptFinal: %v", tt.name, err)
			}
			if parts = append(parts, tail...); !bytes.Equal(parts, ct) {
				t.Errorf("%s: multi-part ciphertext differs from single-part", tt.name)
			}
			if err := c.CryptInit(true, s, tt.mech, key); err != nil {
				t.Fatal(err)
			}
			pt, _, err := c.Crypt(true, 0, s, ct, int64(len(ct)))
			if err != nil || !bytes.Equal(pt, tt.data) {
				t.Fatalf("%s: Decrypt: %v (equal %v)", tt.name, err, bytes.Equal(pt, tt.data))
			}
		}
	}

	cbc := p11.Mechanism{Type: p11.CKM_AES_CBC, Param: iv}
	c.CryptInit(false, s, cbc, k256)
	_, _, err = c.Crypt(false, 0, s, data[:17], 64)
	wantRV(t, "CBC of 17 bytes", err, p11.CKR_DATA_LEN_RANGE)
	c.CryptInit(true, s, cbc, k256)
	_, _, err = c.Crypt(true, 0, s, data[:17], 64)
	wantRV(t, "CBC decrypt of 17 bytes", err, p11.CKR_ENCRYPTED_DATA_LEN_RANGE)
	pad := p11.Mechanism{Type: p11.CKM_AES_CBC_PAD, Param: iv}
	c.CryptInit(true, s, pad, k256)
	_, _, err = c.Crypt(true, 0, s, data[:32], 64) // random bytes: bad padding
	wantRV(t, "CBC_PAD decrypt with bad padding", err, p11.CKR_ENCRYPTED_DATA_INVALID)
	_, _, err = c.Crypt(false, 0, s, data[:16], 64)
	wantRV(t, "Encrypt without init", err, p11.CKR_OPERATION_NOT_INITIALIZED)
	c.CryptInit(false, s, cbc, k256)
	wantRV(t, "second EncryptInit", c.CryptInit(false, s, cbc, k256), p11.CKR_OPERATION_ACTIVE)
	wantRV(t, "CBC without an IV", c.CryptInit(true, s, p11.Mechanism{Type: p11.CKM_AES_CBC}, k256), p11.CKR_MECHANISM_PARAM_INVALID)
	wantRV(t, "AES with a signing mechanism", c.SignInit(s, p11.Mechanism{Type: p11.CKM_ECDSA}, k256), p11.CKR_KEY_HANDLE_INVALID)
	encOnly, err := c.GenerateKey(s, gen, []p11.Attribute{attr(p11.CKA_VALUE_LEN, p11.Ulong(16)), attr(p11.CKA_DECRYPT, p11.Bool(false))})
	if err != nil {
		t.Fatal(err)
	}
	wantRV(t, "decrypting with an encrypt-only key", c.CryptInit(true, s, cbc, encOnly), p11.CKR_KEY_FUNCTION_NOT_PERMITTED)
}

// TestAES16MiB: one C_Encrypt of 16 MiB, cut into TPM turns on the way,
// decrypts to the same bytes.
func TestAES16MiB(t *testing.T) {
	f := newFixture(t, "sim")
	c := f.dial(t)
	s, _ := c.OpenSession(1, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	c.Login(s, p11.CKU_USER, []byte(userPIN))
	k, err := c.GenerateKey(s, p11.Mechanism{Type: p11.CKM_AES_KEY_GEN}, []p11.Attribute{attr(p11.CKA_VALUE_LEN, p11.Ulong(32))})
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 16<<20)
	for i := range data {
		data[i] = byte(i>>8 ^ i)
	}
	cbc := p11.Mechanism{Type: p11.CKM_AES_CBC, Param: make([]byte, 16)}
	c.CryptInit(false, s, cbc, k)
	ct, _, err := c.Crypt(false, 0, s, data, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	c.CryptInit(true, s, cbc, k)
	pt, _, err := c.Crypt(true, 0, s, ct, int64(len(ct)))
	if err != nil || !bytes.Equal(pt, data) {
		t.Fatalf("16 MiB round trip: %v", err)
	}
}
