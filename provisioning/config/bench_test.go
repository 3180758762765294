package config

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"tep.dev/tep/provisioning"
	"tep.dev/tep/provisioning/blob"
	"tep.dev/tep/tpm"
)

// BenchmarkApply applies aes blobs of 1 MiB and 64 MiB of incompressible
// content on swtpm, split into verify, decrypt and extract. Beside it, on
// the same swtpm and key in the same run, the raw TPM2_EncryptDecrypt2
// rate (CTR, the TPM's largest pieces, the counter chained, a password
// authorization): "raw", commands marshalled by hand and sent before each
// apply over as many bytes, so that load changes weigh on both alike; and
// "raw-gotpm", the same through go-tpm's reflection, once, on 2 MiB.
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
			gotpm := rawGoTPM(b, r.tpm, 2<<20)
			var sum Timings
			var raw time.Duration
			start := r.epoch()
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				r.seal(content, start+uint64(i+1), blob.ModeAES)
				raw += rawHand(b, r.tpm, len(content)+16)
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
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / n }
			mibs := func(d time.Duration) float64 { return float64(len(content)+16) / (1 << 20) / (d.Seconds() / n) }
			b.ReportMetric(ms(sum.Verify), "verify-ms")
			b.ReportMetric(ms(sum.Decrypt), "decrypt-ms")
			b.ReportMetric(ms(sum.Extract), "extract-ms")
			b.ReportMetric(mibs(sum.Decrypt), "decrypt-MiB/s")
			b.ReportMetric(mibs(raw), "raw-MiB/s")
			b.ReportMetric(gotpm, "raw-gotpm-MiB/s")
			b.ReportMetric(mibs(sum.Decrypt)/mibs(raw), "×raw")
		})
	}
}

// rawGoTPM is the MiB/s of go-tpm's TPM2_EncryptDecrypt2 over size bytes.
func rawGoTPM(b *testing.B, t *tpm.TPM, size int) float64 {
	b.Helper()
	piece := t.MaxBuffer() / 16 * 16
	msg := make([]byte, piece)
	start := time.Now()
	err := t.Do(func(tr transport.TPM) error {
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

// rawHand sends size bytes through TPM2_EncryptDecrypt2 (CTR) in commands
// marshalled by hand (TPM 2.0 Part 3, 15.3), and returns the time spent.
func rawHand(b *testing.B, t *tpm.TPM, size int) time.Duration {
	b.Helper()
	piece := t.MaxBuffer() / 16 * 16
	msg := make([]byte, piece)
	iv := make([]byte, 16)
	var cmd []byte
	start := time.Now()
	for done := 0; done < size; done += piece {
		n := min(piece, size-done)
		cmd = binary.BigEndian.AppendUint16(cmd[:0], uint16(tpm2.TPMSTSessions))
		cmd = binary.BigEndian.AppendUint32(cmd, 0)
		cmd = binary.BigEndian.AppendUint32(cmd, uint32(tpm2.TPMCCEncryptDecrypt2))
		cmd = binary.BigEndian.AppendUint32(cmd, uint32(provisioning.AESKeyHandle))
		cmd = binary.BigEndian.AppendUint32(cmd, 9) // TPM_RS_PW, empty nonce, continueSession, empty password
		cmd = append(cmd, 0x40, 0, 0, 0x09, 0, 0, 1, 0, 0)
		cmd = binary.BigEndian.AppendUint16(cmd, uint16(n))
		cmd = append(cmd, msg[:n]...)
		cmd = append(cmd, 1) // decrypt
		cmd = binary.BigEndian.AppendUint16(cmd, uint16(tpm2.TPMAlgCTR))
		cmd = binary.BigEndian.AppendUint16(cmd, 16)
		cmd = append(cmd, iv...)
		binary.BigEndian.PutUint32(cmd[2:], uint32(len(cmd)))
		rsp, err := t.Send(cmd)
		if err != nil {
			b.Fatal(err)
		}
		if rc := binary.BigEndian.Uint32(rsp[6:]); rc != 0 || len(rsp) < 14+2+n+2+16 {
			b.Fatalf("TPM2_EncryptDecrypt2: rc %#x, %d bytes", rc, len(rsp))
		}
		// parameterSize, outData (2+n), ivOut (2+16).
		copy(iv, rsp[14+2+n+2:])
	}
	return time.Since(start)
}
