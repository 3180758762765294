package bootlog_test

import (
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/bootlog"
	"tep.dev/tep/attest/bootlog/bootlogtest"
	"tep.dev/tep/internal/swtpm"
	"tep.dev/tep/tpm"
	"tep.dev/tep/tpm/tpmtest"
)

// TestSWTPM plays firmware: it extends a real TPM's PCRs 0–7 (sha256 and
// sha384) with the sample boot's events, reads them back, and checks
// that the log verifies against them and a changed log does not.
func TestSWTPM(t *testing.T) {
	spec := tpmtest.Start(t, swtpm.Config{TCP: true, Manufacture: &swtpm.Manufacture{PCRBanks: banks}})
	dev, err := tpm.Open(spec, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	ev := bootlogtest.Sample("2.3")
	var quoted []attest.PCRBank
	err = dev.Do(func(tr transport.TPM) error {
		for _, e := range ev {
			ext := tpm2.PCRExtend{
				PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(e.PCR), Auth: tpm2.PasswordAuth(nil)},
				Digests: tpm2.TPMLDigestValues{Digests: []tpm2.TPMTHA{
					{HashAlg: tpm2.TPMAlgSHA256, Digest: bootlogtest.Digest(e, "sha256")},
					{HashAlg: tpm2.TPMAlgSHA384, Digest: bootlogtest.Digest(e, "sha384")},
				}},
			}
			if _, err := ext.Execute(tr); err != nil {
				return err
			}
		}
		for _, b := range []struct {
			name string
			alg  tpm2.TPMAlgID
		}{{"sha256", tpm2.TPMAlgSHA256}, {"sha384", tpm2.TPMAlgSHA384}} {
			// PCRRead returns at most 8 digests per call.
			rsp, err := tpm2.PCRRead{PCRSelectionIn: tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{
				{Hash: b.alg, PCRSelect: tpm2.PCClientCompatible.PCRs(0, 1, 2, 3, 4, 5, 6, 7)},
			}}}.Execute(tr)
			if err != nil {
				return err
			}
			vals := map[int][]byte{}
			for i, d := range rsp.PCRValues.Digests {
				vals[i] = d.Buffer
			}
			quoted = append(quoted, attest.PCRBank{Bank: b.name, Values: vals})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(quoted[0].Values) != 8 || len(quoted[1].Values) != 8 {
		t.Fatalf("read %d and %d PCRs, want 8 each", len(quoted[0].Values), len(quoted[1].Values))
	}
	events, faults := bootlog.Verify(build(t, ev), quoted, nil)
	if faults != nil || len(events["sha256"].Events) != len(ev) || len(events["sha384"].Events) != len(ev) {
		t.Fatalf("Verify against the TPM = %d+%d events, %v", len(events["sha256"].Events), len(events["sha384"].Events), faults)
	}
	tampered := bootlogtest.Sample("2.4")
	if _, faults := bootlog.Verify(build(t, tampered), quoted, nil); len(faults) != 2 {
		t.Errorf("Verify of another firmware's log against the TPM = %v, want PCR 0 in both banks", faults)
	}
}
