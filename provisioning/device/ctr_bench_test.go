package device

import (
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"tep.dev/tep/internal/swtpm"
	"tep.dev/tep/provisioning"
	"tep.dev/tep/tpm"
	"tep.dev/tep/tpm/tpmtest"
)

// BenchmarkCTR runs 1 MiB through the configuration key on one swtpm,
// four ways in turn within each iteration, so that a machine whose load
// changes during the run weighs on all four alike:
//
//   - raw-gotpm: TPM2_EncryptDecrypt2 in CTR mode as make bench's raw TPM
//     sends it (go-tpm's command, a password authorization, the TPM's
//     largest pieces, the counter chained);
//   - raw: the same commands marshalled by hand (tpm.EncryptDecryptPersistent),
//     as NewCTR sends them, with no stream around them: the floor NewCTR is held to (0.85×);
//   - NewCTR, and NewCTR making its keystream with ECB.
//
// It reports each one's MB/s and NewCTR's ratio to both raw figures:
//
//	go test -run '^$' -bench BenchmarkCTR -benchtime 10x -count 3 ./provisioning/device
func BenchmarkCTR(b *testing.B) {
	spec := tpmtest.Start(b, swtpm.Config{TCP: true})
	tp, err := tpm.Open(spec, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tp.Close() })
	if _, err := ImportAESKey(tp, make([]byte, 32), false); err != nil {
		b.Fatal(err)
	}
	data, out := make([]byte, 1<<20), make([]byte, 1<<20)
	iv := make([]byte, 16)
	piece := tp.MaxBuffer() / 16 * 16
	ways := []struct {
		name string
		f    func() error
	}{
		{"raw-gotpm", func() error { return rawGoTPM(tp, data, iv, piece) }},
		{"raw", func() error { return rawMarshalled(tp, data, iv, piece) }},
		{"NewCTR", func() error { return viaStream(tp, out, data, iv, false) }},
		{"NewCTR-ECB", func() error { return viaStream(tp, out, data, iv, true) }},
	}
	spent := make([]time.Duration, len(ways))
	n := 0
	for b.Loop() {
		for i, w := range ways {
			start := time.Now()
			if err := w.f(); err != nil {
				b.Fatalf("%s: %v", w.name, err)
			}
			spent[i] += time.Since(start)
		}
		n++
	}
	rate := func(i int) float64 { return float64(n*len(data)) / 1e6 / spent[i].Seconds() }
	for i, w := range ways {
		b.ReportMetric(rate(i), w.name+"-MB/s")
	}
	b.ReportMetric(rate(2)/rate(1), "NewCTR/raw")
	b.ReportMetric(rate(2)/rate(0), "NewCTR/raw-gotpm")
	b.ReportMetric(0, "ns/op") // the sum of four ways means nothing
}

func rawGoTPM(tp *tpm.TPM, data, iv []byte, piece int) error {
	return tp.Do(func(tr transport.TPM) error {
		rsp, err := tpm2.ReadPublic{ObjectHandle: provisioning.AESKeyHandle}.Execute(tr)
		if err != nil {
			return err
		}
		key := tpm2.AuthHandle{Handle: provisioning.AESKeyHandle, Name: rsp.Name, Auth: tpm2.PasswordAuth(nil)}
		ctr := iv
		for off := 0; off < len(data); off += piece {
			rsp, err := tpm2.EncryptDecrypt2{
				KeyHandle: key,
				Message:   tpm2.TPM2BMaxBuffer{Buffer: data[off:min(off+piece, len(data))]},
				Decrypt:   true,
				Mode:      tpm2.TPMAlgCTR,
				IV:        tpm2.TPM2BIV{Buffer: ctr},
			}.Execute(tr)
			if err != nil {
				return err
			}
			ctr = rsp.IV.Buffer
		}
		return nil
	})
}

func rawMarshalled(tp *tpm.TPM, data, iv []byte, piece int) error {
	ctr := iv
	for off := 0; off < len(data); off += piece {
		_, next, err := tp.EncryptDecryptPersistent(provisioning.AESKeyHandle, true, tpm2.TPMAlgCTR, ctr, data[off:min(off+piece, len(data))])
		if err != nil {
			return err
		}
		ctr = next
	}
	return nil
}

func viaStream(tp *tpm.TPM, out, data, iv []byte, ecb bool) error {
	s, err := newCTR(tp, iv, ecb)
	if err != nil {
		return err
	}
	s.XORKeyStream(out, data)
	return s.Err()
}
