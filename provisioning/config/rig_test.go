package config

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"tep.dev/tep/provisioning"
	"tep.dev/tep/provisioning/archive"
	"tep.dev/tep/provisioning/blob"
	"tep.dev/tep/tpm"
	"tep.dev/tep/tpm/tpmtest"
)

// profile is a TPM's key sizes: PTT (AES-256, P-384) or dTPM (AES-128,
// P-256).
type profile struct {
	aesBytes int
	curve    elliptic.Curve
}

var (
	ptt  = profile{32, elliptic.P384()}
	dtpm = profile{16, elliptic.P256()}
)

// rig is a provisioned swtpm, the host's keys and a device's folders.
type rig struct {
	t      testing.TB
	tpm    *tpm.TPM
	dev    TPMDevice
	signer *ecdsa.PrivateKey
	aesKey []byte
	devKey *ecdh.PublicKey
	opts   Options
}

func newRig(t testing.TB, p profile) *rig {
	t.Helper()
	tp, err := tpm.Open(tpmtest.StartSWTPM(t), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tp.Close() })
	r := &rig{t: t, tpm: tp, dev: TPMDevice{T: tp}}
	if r.signer, err = ecdsa.GenerateKey(p.curve, rand.Reader); err != nil {
		t.Fatal(err)
	}
	r.aesKey = make([]byte, p.aesBytes)
	rand.Read(r.aesKey)
	r.provision(p)
	dir := t.TempDir()
	r.opts = Options{Blob: filepath.Join(dir, "upload", "tep_user_config_data.bin"), Dest: filepath.Join(dir, "opt", "tep-config")}
	os.MkdirAll(filepath.Dir(r.opts.Blob), 0o755)
	return r
}

// provision writes what tep-provision device and device-key write.
func (r *rig) provision(p profile) {
	r.t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&r.signer.PublicKey)
	if err != nil {
		r.t.Fatal(err)
	}
	err = r.tpm.Do(func(tr transport.TPM) error {
		if err := writeNV(tr, provisioning.PolicyKeyIndex, der); err != nil {
			return err
		}
		if err := persist(tr, aesTemplate(len(r.aesKey)), r.aesKey, provisioning.AESKeyHandle); err != nil {
			return err
		}
		return persist(tr, ecdhTemplate(p.curve), nil, provisioning.DeviceKeyHandle)
	})
	if err != nil {
		r.t.Fatalf("provisioning the swtpm: %v", err)
	}
	r.devKey = r.readDeviceKey()
}

func writeNV(tr transport.TPM, idx tpm2.TPMHandle, data []byte) error {
	_, err := tpm2.NVDefineSpace{
		AuthHandle: tpm2.TPMRHOwner,
		PublicInfo: tpm2.New2B(tpm2.TPMSNVPublic{
			NVIndex: idx, NameAlg: tpm2.TPMAlgSHA256, DataSize: uint16(len(data)),
			Attributes: tpm2.TPMANV{OwnerWrite: true, OwnerRead: true, AuthRead: true, NoDA: true, NT: tpm2.TPMNTOrdinary},
		}),
	}.Execute(tr)
	if err != nil {
		return err
	}
	rp, err := tpm2.NVReadPublic{NVIndex: idx}.Execute(tr)
	if err != nil {
		return err
	}
	_, err = tpm2.NVWrite{
		AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
		NVIndex:    tpm2.NamedHandle{Handle: idx, Name: rp.NVName},
		Data:       tpm2.TPM2BMaxNVBuffer{Buffer: data},
	}.Execute(tr)
	return err
}

func aesTemplate(n int) tpm2.TPMTPublic {
	return tpm2.TPMTPublic{
		Type: tpm2.TPMAlgSymCipher, NameAlg: tpm2.TPMAlgSHA256,
		ObjectAttributes: tpm2.TPMAObject{FixedTPM: true, FixedParent: true, UserWithAuth: true, NoDA: true, Decrypt: true, SignEncrypt: true},
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgSymCipher, &tpm2.TPMSSymCipherParms{Sym: tpm2.TPMTSymDefObject{
			Algorithm: tpm2.TPMAlgAES,
			KeyBits:   tpm2.NewTPMUSymKeyBits(tpm2.TPMAlgAES, tpm2.TPMKeyBits(8*n)),
			Mode:      tpm2.NewTPMUSymMode(tpm2.TPMAlgAES, tpm2.TPMAlgNull),
		}}),
	}
}

func ecdhTemplate(c elliptic.Curve) tpm2.TPMTPublic {
	id := tpm2.TPMECCNistP384
	if c == elliptic.P256() {
		id = tpm2.TPMECCNistP256
	}
	return tpm2.TPMTPublic{
		Type: tpm2.TPMAlgECC, NameAlg: tpm2.TPMAlgSHA256,
		ObjectAttributes: tpm2.TPMAObject{FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true, UserWithAuth: true, NoDA: true, Decrypt: true},
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
			Scheme:  tpm2.TPMTECCScheme{Scheme: tpm2.TPMAlgECDH, Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDH, &tpm2.TPMSKeySchemeECDH{HashAlg: tpm2.TPMAlgSHA256})},
			CurveID: id, KDF: tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
		}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{}),
	}
}

// persist makes a primary key from tmpl (with data as its sensitive
// value, if any) and makes it persistent at h.
func persist(tr transport.TPM, tmpl tpm2.TPMTPublic, data []byte, h tpm2.TPMHandle) error {
	cp := tpm2.CreatePrimary{PrimaryHandle: tpm2.TPMRHOwner, InPublic: tpm2.New2B(tmpl)}
	if data != nil {
		cp.InSensitive = tpm2.TPM2BSensitiveCreate{Sensitive: &tpm2.TPMSSensitiveCreate{Data: tpm2.NewTPMUSensitiveCreate(&tpm2.TPM2BSensitiveData{Buffer: data})}}
	}
	rsp, err := cp.Execute(tr)
	if err != nil {
		return err
	}
	defer tpm2.FlushContext{FlushHandle: rsp.ObjectHandle}.Execute(tr)
	_, err = tpm2.EvictControl{
		Auth:             tpm2.TPMRHOwner,
		ObjectHandle:     tpm2.NamedHandle{Handle: rsp.ObjectHandle, Name: rsp.Name},
		PersistentHandle: h,
	}.Execute(tr)
	return err
}

func (r *rig) readDeviceKey() *ecdh.PublicKey {
	r.t.Helper()
	var pub *ecdh.PublicKey
	err := r.tpm.Do(func(tr transport.TPM) error {
		rp, err := tpm2.ReadPublic{ObjectHandle: provisioning.DeviceKeyHandle}.Execute(tr)
		if err != nil {
			return err
		}
		area, err := rp.OutPublic.Contents()
		if err != nil {
			return err
		}
		pt, err := area.Unique.ECC()
		if err != nil {
			return err
		}
		curve, size := ecdh.P384(), 48
		if len(pt.X.Buffer) <= 32 {
			curve, size = ecdh.P256(), 32
		}
		b := append([]byte{4}, pad(pt.X.Buffer, size)...)
		pub, err = curve.NewPublicKey(append(b, pad(pt.Y.Buffer, size)...))
		return err
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return pub
}

func pad(b []byte, n int) []byte { return append(make([]byte, n-len(b)), b...) }

// seal seals tgz for the rig's device and puts it where apply looks.
func (r *rig) seal(tgz []byte, epoch uint64, mode blob.Mode) []byte {
	r.t.Helper()
	o := blob.Options{Signer: r.signer, Epoch: epoch, AESKey: r.aesKey}
	if mode == blob.ModeECDH {
		o.AESKey, o.DeviceKey = nil, r.devKey
	}
	b, err := blob.Seal(tgz, o)
	if err != nil {
		r.t.Fatal(err)
	}
	r.put(b)
	return b
}

func (r *rig) put(b []byte) {
	r.t.Helper()
	if err := os.WriteFile(r.opts.Blob, b, 0o600); err != nil {
		r.t.Fatal(err)
	}
}

// tree packs files (name → content) as a .tgz.
func tree(t testing.TB, files map[string]string) []byte {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := archive.Pack(dir, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// checkFiles checks that dir holds exactly files.
func checkFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	s, err := summary(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, kind := range s {
		if kind[0] == 'f' {
			n++
		}
	}
	if n != len(files) {
		t.Errorf("%s holds %d files, want %d", dir, n, len(files))
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", name, got, err, want)
		}
	}
}

func (r *rig) epoch() uint64 {
	r.t.Helper()
	e, err := r.dev.Epoch()
	if err != nil {
		r.t.Fatal(err)
	}
	return e
}

func openBare(t *testing.T) (*tpm.TPM, error) {
	tp, err := tpm.Open(tpmtest.StartSWTPM(t), t.TempDir())
	if err == nil {
		t.Cleanup(func() { tp.Close() })
	}
	return tp, err
}

// evict removes the AES key from the rig's TPM.
func (r *rig) evict(t *testing.T) {
	t.Helper()
	err := r.tpm.Do(func(tr transport.TPM) error {
		rp, err := tpm2.ReadPublic{ObjectHandle: provisioning.AESKeyHandle}.Execute(tr)
		if err != nil {
			return err
		}
		_, err = tpm2.EvictControl{
			Auth:             tpm2.TPMRHOwner,
			ObjectHandle:     tpm2.NamedHandle{Handle: provisioning.AESKeyHandle, Name: rp.Name},
			PersistentHandle: provisioning.AESKeyHandle,
		}.Execute(tr)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
