package device

import (
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"tep.dev/tep/internal/swtpm"
	"tep.dev/tep/provisioning"
	"tep.dev/tep/tpm"
	"tep.dev/tep/tpm/tpmtest"
)

// BenchmarkCTR runs 1 MiB through the configuration key on one swtpm,
// side by side:
//
//   - raw: TPM2_EncryptDecrypt2 in CTR mode as make bench's raw TPM runs
//     it (go-tpm's command, a password authorization, the TPM's largest
//     pieces, the counter chained), the floor NewCTR is held to (0.85×);
//   - raw-marshalled: the same commands as NewCTR sends them, marshalled
//     by hand, with no stream around them;
//   - NewCTR, and NewCTR making its keystream with ECB.
//
// go test -run '^$' -bench BenchmarkCTR -benchtime 20x -count 3 ./provisioning/device
func BenchmarkCTR(b *testing.B) {
	spec := tpmtest.Start(b, swtpm.Config{TCP: true})
	tp, err := tpm.Open(spec, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tp.Close() })
	key := make([]byte, 32)
	if _, err := ImportAESKey(tp, key, false); err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 1<<20)
	iv := make([]byte, 16)
	piece := tp.MaxBuffer() / 16 * 16
	b.Run("raw", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		var name tpm2.TPM2BName
		err := tp.Do(func(tr transport.TPM) error {
			rsp, err := tpm2.ReadPublic{ObjectHandle: provisioning.AESKeyHandle}.Execute(tr)
			if err == nil {
				name = rsp.Name
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		key := tpm2.AuthHandle{Handle: provisioning.AESKeyHandle, Name: name, Auth: tpm2.PasswordAuth(nil)}
		for b.Loop() {
			err := tp.Do(func(tr transport.TPM) error {
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
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw-marshalled", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		c := &CTR{t: tp, handle: provisioning.AESKeyHandle}
		for b.Loop() {
			ctr := iv
			for off := 0; off < len(data); off += piece {
				_, next, err := c.encryptDecrypt2(data[off:min(off+piece, len(data))], true, tpm2.TPMAlgCTR, ctr)
				if err != nil {
					b.Fatal(err)
				}
				ctr = next
			}
		}
	})
	for _, ecb := range []bool{false, true} {
		name := "NewCTR"
		if ecb {
			name = "NewCTR-ECB"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			out := make([]byte, len(data))
			for b.Loop() {
				s, err := newCTR(tp, iv, ecb)
				if err != nil {
					b.Fatal(err)
				}
				s.XORKeyStream(out, data)
				if err := s.Err(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
