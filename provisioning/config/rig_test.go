package config

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"tep.dev/tep/provisioning"
	"tep.dev/tep/provisioning/archive"
	"tep.dev/tep/provisioning/blob"
	"tep.dev/tep/provisioning/device"
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
	if _, err := device.WritePolicyKey(r.tpm, &r.signer.PublicKey, false); err != nil {
		r.t.Fatal(err)
	}
	if _, err := device.ImportAESKey(r.tpm, r.aesKey, false); err != nil {
		r.t.Fatal(err)
	}
	if _, err := device.EnsureCounter(r.tpm, provisioning.ConfigEpochIndex); err != nil {
		r.t.Fatal(err)
	}
	pub, _, err := device.CreateDeviceKey(r.tpm, p.curve, false)
	if err != nil {
		r.t.Fatal(err)
	}
	if r.devKey, err = pub.ECDH(); err != nil {
		r.t.Fatal(err)
	}
}

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
