package config

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"tep.dev/tep/provisioning"
	"tep.dev/tep/provisioning/blob"
)

// BenchmarkApply applies aes blobs of 1 MiB and 64 MiB of incompressible
// content on swtpm, split into verify, decrypt and extract, beside the
// raw TPM2_EncryptDecrypt2 rate of the same swtpm and key in the same
// run:
//
//	go test -run '^$' -bench BenchmarkApply -benchtime 3x ./provisioning/config
func BenchmarkApply(b *testing.B) {
	for _, size := range []int{1 << 20, 64 << 20} {
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			r := newRig(b, ptt)
			src := b.TempDir()
			data := make([]byte, size)
			rand.Read(data)
			os.WriteFile(filepath.Join(src, "data"), data, 0o644)
			content, err := ReadContent(src)
			if err != nil {
				b.Fatal(err)
			}
			raw := rawRate(b, r, size)
			var sum Timings
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				r.seal(content, uint64(i+1), blob.ModeAES)
				b.StartTimer()
				res, err := Apply(r.dev, r.opts)
				if err != nil {
					b.Fatal(err)
				}
				sum.Verify += res.Timings.Verify
				sum.Decrypt += res.Timings.Decrypt
				sum.Extract += res.Timings.Extract
			}
			n := float64(b.N)
			ms := func(d time.Duration) float64 { return float64(d.Milliseconds()) / n }
			decrypt := float64(len(content)) / (1 << 20) / (sum.Decrypt.Seconds() / n)
			b.ReportMetric(ms(sum.Verify), "verify-ms")
			b.ReportMetric(ms(sum.Decrypt), "decrypt-ms")
			b.ReportMetric(ms(sum.Extract), "extract-ms")
			b.ReportMetric(decrypt, "decrypt-MiB/s")
			b.ReportMetric(raw, "raw-MiB/s")
			b.ReportMetric(decrypt/raw, "×raw")
		})
	}
}

// rawRate is the MiB/s of bare TPM2_EncryptDecrypt2 (CTR) commands on the
// rig's AES key, size bytes in pieces of the TPM's input buffer.
func rawRate(b *testing.B, r *rig, size int) float64 {
	b.Helper()
	piece := r.tpm.MaxBuffer() / 16 * 16
	msg := make([]byte, piece)
	start := time.Now()
	err := r.tpm.Do(func(tr transport.TPM) error {
		rp, err := tpm2.ReadPublic{ObjectHandle: provisioning.AESKeyHandle}.Execute(tr)
		if err != nil {
			return err
		}
		key := tpm2.AuthHandle{Handle: provisioning.AESKeyHandle, Name: rp.Name, Auth: tpm2.PasswordAuth(nil)}
		iv := make([]byte, 16)
		for done := 0; done < size; done += piece {
			rsp, err := tpm2.EncryptDecrypt2{KeyHandle: key, Message: tpm2.TPM2BMaxBuffer{Buffer: msg}, Decrypt: true, Mode: tpm2.TPMAlgCTR, IV: tpm2.TPM2BIV{Buffer: iv}}.Execute(tr)
			if err != nil {
				return err
			}
			iv = rsp.IV.Buffer
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return float64(size) / (1 << 20) / time.Since(start).Seconds()
}
