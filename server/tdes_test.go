package server

import (
	"bytes"
	"slices"
	"testing"

	"tep.dev/tep/p11"
	p11client "tep.dev/tep/provider/client"
	"tep.dev/tep/tpm/tpmtest"
)

var (
	tdesMechs = []uint64{p11.CKM_DES2_KEY_GEN, p11.CKM_DES3_KEY_GEN, p11.CKM_DES3_ECB, p11.CKM_DES3_CBC, p11.CKM_DES3_CBC_PAD}
	desMechs  = []uint64{p11.CKM_DES_KEY_GEN, p11.CKM_DES_ECB, p11.CKM_DES_CBC, p11.CKM_DES_CBC_PAD}
)

// TestTDESOffered: the DES3 mechanisms are listed on swtpm, which has
// TDES, and not on the simulator, which lacks it; single DES never is.
func TestTDESOffered(t *testing.T) {
	for name, spec := range map[string]func(t *testing.T) string{
		"sim":   func(*testing.T) string { return "sim" },
		"swtpm": func(t *testing.T) string { return tpmtest.StartSWTPM(t) },
	} {
		t.Run(name, func(t *testing.T) {
			c := newFixture(t, spec(t)).dial(t)
			list, err := c.MechanismList(1)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range tdesMechs {
				if got := slices.Contains(list, m); got != (name == "swtpm") {
					t.Errorf("%s listed: %v", p11.MechName(m), got)
				}
			}
			for _, m := range desMechs {
				if slices.Contains(list, m) {
					t.Errorf("%s listed", p11.MechName(m))
				}
				_, err := c.MechanismInfo(1, m)
				wantRV(t, "C_GetMechanismInfo(single DES)", err, p11.CKR_MECHANISM_INVALID)
			}
			if name == "sim" {
				s, _ := c.OpenSession(1, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
				c.Login(s, p11.CKU_USER, []byte(userPIN))
				_, err := c.GenerateKey(s, p11.Mechanism{Type: p11.CKM_DES3_KEY_GEN}, nil)
				wantRV(t, "DES3 key on the simulator", err, p11.CKR_MECHANISM_INVALID)
				return
			}
			for m, want := range map[uint64]p11.MechanismInfoResp{
				p11.CKM_DES3_KEY_GEN: {MinKeySize: 24, MaxKeySize: 24, Flags: p11.CKF_HW | p11.CKF_GENERATE},
				p11.CKM_DES2_KEY_GEN: {MinKeySize: 16, MaxKeySize: 16, Flags: p11.CKF_HW | p11.CKF_GENERATE},
				p11.CKM_DES3_CBC_PAD: {MinKeySize: 16, MaxKeySize: 24, Flags: p11.CKF_HW | p11.CKF_ENCRYPT | p11.CKF_DECRYPT},
			} {
				if got, err := c.MechanismInfo(1, m); err != nil || got != want {
					t.Errorf("C_GetMechanismInfo(%s) = %+v, %v, want %+v", p11.MechName(m), got, err, want)
				}
			}
		})
	}
}

// TestTDESInTheTPM: two- and three-key TDES keys made in swtpm encrypt
// and decrypt in ECB, CBC and CBC_PAD, single-part and in parts, and
// refuse what PKCS#11 says to refuse.
func TestTDESInTheTPM(t *testing.T) {
	f := newFixture(t, tpmtest.StartSWTPM(t))
	c := f.dial(t)
	s, _ := c.OpenSession(1, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	c.Login(s, p11.CKU_USER, []byte(userPIN))
	des3, err := c.GenerateKey(s, p11.Mechanism{Type: p11.CKM_DES3_KEY_GEN}, []p11.Attribute{attr(p11.CKA_LABEL, []byte("des3"))})
	if err != nil {
		t.Fatal(err)
	}
	des2, err := c.GenerateKey(s, p11.Mechanism{Type: p11.CKM_DES2_KEY_GEN}, []p11.Attribute{attr(p11.CKA_VALUE_LEN, p11.Ulong(16))})
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[uint64][2]uint64{des3: {p11.CKK_DES3, 24}, des2: {p11.CKK_DES2, 16}} {
		v, err := c.AttributeValues(s, key, []uint64{p11.CKA_KEY_TYPE, p11.CKA_VALUE_LEN, p11.CKA_VALUE})
		wantRV(t, "reading a TDES key's value", err, p11.CKR_ATTRIBUTE_SENSITIVE)
		if !bytes.Equal(v[0].Value, p11.Ulong(want[0])) || !bytes.Equal(v[1].Value, p11.Ulong(want[1])) {
			t.Errorf("CKA_KEY_TYPE, CKA_VALUE_LEN = %x, %x, want %v", v[0].Value, v[1].Value, want)
		}
	}
	iv := bytes.Repeat([]byte{7}, 8)
	data := make([]byte, 2*65536+40) // more than one TPM turn
	for i := range data {
		data[i] = byte(i * 13)
	}
	for _, key := range []uint64{des3, des2} {
		for _, tt := range []struct {
			name  string
			mech  p11.Mechanism
			data  []byte
			ctLen int
		}{
			{"ECB", p11.Mechanism{Type: p11.CKM_DES3_ECB}, data, len(data)},
			{"CBC", p11.Mechanism{Type: p11.CKM_DES3_CBC, Param: iv}, data, len(data)},
			{"CBC_PAD", p11.Mechanism{Type: p11.CKM_DES3_CBC_PAD, Param: iv}, data[:1001], 1008},
			{"CBC_PAD, whole blocks", p11.Mechanism{Type: p11.CKM_DES3_CBC_PAD, Param: iv}, data[:1000], 1008},
		} {
			checkCrypt(t, c, s, key, tt.name, tt.mech, tt.data, tt.ctLen)
		}
	}

	aes, err := c.GenerateKey(s, p11.Mechanism{Type: p11.CKM_AES_KEY_GEN}, []p11.Attribute{attr(p11.CKA_VALUE_LEN, p11.Ulong(16))})
	if err != nil {
		t.Fatal(err)
	}
	cbc := p11.Mechanism{Type: p11.CKM_DES3_CBC, Param: iv}
	wantRV(t, "DES3 with an AES key", c.CryptInit(false, s, cbc, aes), p11.CKR_KEY_TYPE_INCONSISTENT)
	wantRV(t, "AES with a DES3 key", c.CryptInit(false, s, p11.Mechanism{Type: p11.CKM_AES_CBC, Param: make([]byte, 16)}, des3), p11.CKR_KEY_TYPE_INCONSISTENT)
	wantRV(t, "DES3 CBC with a 16-byte IV", c.CryptInit(false, s, p11.Mechanism{Type: p11.CKM_DES3_CBC, Param: make([]byte, 16)}, des3), p11.CKR_MECHANISM_PARAM_INVALID)
	wantRV(t, "DES3 ECB with an IV", c.CryptInit(false, s, p11.Mechanism{Type: p11.CKM_DES3_ECB, Param: iv}, des3), p11.CKR_MECHANISM_PARAM_INVALID)
	wantRV(t, "single DES", c.CryptInit(false, s, p11.Mechanism{Type: p11.CKM_DES_CBC, Param: iv}, des3), p11.CKR_MECHANISM_INVALID)
	c.CryptInit(false, s, cbc, des3)
	_, _, err = c.Crypt(false, 0, s, data[:12], 64)
	wantRV(t, "DES3 CBC of 12 bytes", err, p11.CKR_DATA_LEN_RANGE)
	// Bad padding, always: two blocks whose plaintext ends in a zero byte
	// (a pad length of 0 is never valid), encrypted without padding.
	// Random bytes as ciphertext would end in valid padding one time in
	// about 256.
	unpadded := make([]byte, 16)
	copy(unpadded, data[:15])
	c.CryptInit(false, s, cbc, des3)
	ct, _, err := c.Crypt(false, 0, s, unpadded, 64)
	if err != nil {
		t.Fatal(err)
	}
	pad := p11.Mechanism{Type: p11.CKM_DES3_CBC_PAD, Param: iv}
	c.CryptInit(true, s, pad, des3)
	_, _, err = c.Crypt(true, 0, s, ct, 64)
	wantRV(t, "DES3 CBC_PAD decrypt with bad padding", err, p11.CKR_ENCRYPTED_DATA_INVALID)
	// TDES keys are made in the TPM only: none is imported by value.
	_, err = c.CreateObject(s, []p11.Attribute{attr(p11.CKA_CLASS, p11.Ulong(p11.CKO_SECRET_KEY)),
		attr(p11.CKA_KEY_TYPE, p11.Ulong(p11.CKK_DES3)), attr(p11.CKA_VALUE, make([]byte, 24))})
	wantRV(t, "importing a DES3 key", err, p11.CKR_ATTRIBUTE_VALUE_INVALID)
	for _, tc := range []struct {
		name string
		mech uint64
		tmpl []p11.Attribute
		rv   p11.RV
	}{
		{"DES3 key of 16 bytes", p11.CKM_DES3_KEY_GEN, []p11.Attribute{attr(p11.CKA_VALUE_LEN, p11.Ulong(16))}, p11.CKR_ATTRIBUTE_VALUE_INVALID},
		{"DES2 key of 24 bytes", p11.CKM_DES2_KEY_GEN, []p11.Attribute{attr(p11.CKA_VALUE_LEN, p11.Ulong(24))}, p11.CKR_ATTRIBUTE_VALUE_INVALID},
		{"single DES key", p11.CKM_DES_KEY_GEN, nil, p11.CKR_MECHANISM_INVALID},
		{"extractable DES3 key", p11.CKM_DES3_KEY_GEN, []p11.Attribute{attr(p11.CKA_EXTRACTABLE, p11.Bool(true))}, p11.CKR_ATTRIBUTE_VALUE_INVALID},
	} {
		_, err := c.GenerateKey(s, p11.Mechanism{Type: tc.mech}, tc.tmpl)
		wantRV(t, tc.name, err, tc.rv)
	}
}

// checkCrypt encrypts data with key and mech single-part, into ctLen
// bytes that are not the plaintext, then in three parts of odd sizes to
// the same bytes, and decrypts them back.
func checkCrypt(t *testing.T, c *p11client.Client, s, key uint64, name string, mech p11.Mechanism, data []byte, ctLen int) {
	t.Helper()
	if err := c.CryptInit(false, s, mech, key); err != nil {
		t.Fatalf("%s: EncryptInit: %v", name, err)
	}
	ct, _, err := c.Crypt(false, 0, s, data, int64(ctLen))
	if err != nil || len(ct) != ctLen || bytes.Equal(ct[:16], data[:16]) {
		t.Fatalf("%s: Encrypt = %d bytes, %v, want %d bytes not the plaintext", name, len(ct), err, ctLen)
	}
	c.CryptInit(false, s, mech, key)
	var parts []byte
	for _, chunk := range [][]byte{data[:5], data[5:700], data[700:]} {
		out, _, err := c.Crypt(false, 1, s, chunk, int64(len(chunk)+32))
		if err != nil {
			t.Fatalf("%s: EncryptUpdate: %v", name, err)
		}
		parts = append(parts, out...)
	}
	tail, _, err := c.Crypt(false, 2, s, nil, 32)
	if err != nil {
		t.Fatalf("%s: EncryptFinal: %v", name, err)
	}
	if parts = append(parts, tail...); !bytes.Equal(parts, ct) {
		t.Errorf("%s: multi-part ciphertext differs from single-part", name)
	}
	if err := c.CryptInit(true, s, mech, key); err != nil {
		t.Fatal(err)
	}
	pt, _, err := c.Crypt(true, 0, s, ct, int64(len(ct)))
	if err != nil || !bytes.Equal(pt, data) {
		t.Errorf("%s: Decrypt: %v (equal %v)", name, err, bytes.Equal(pt, data))
	}
}
