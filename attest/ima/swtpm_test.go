package ima_test

import (
	"bytes"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/ima"
	"tep.dev/tep/attest/ima/imagen"
	"tep.dev/tep/internal/swtpm"
	"tep.dev/tep/tpm"
	"tep.dev/tep/tpm/tpmtest"
)

// TestSWTPM extends a real TPM's PCR 10 (sha256 and sha384 banks) with a
// generated log, entry by entry as the kernel does, reads it back, and
// replays the log to the same values.
func TestSWTPM(t *testing.T) {
	spec := tpmtest.Start(t, swtpm.Config{TCP: true, Manufacture: &swtpm.Manufacture{PCRBanks: []string{"sha256", "sha384"}}})
	dev, err := tpm.Open(spec, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	banks := []string{"sha256", "sha384"}
	g, err := imagen.New(imagen.Config{Banks: banks, ViolationEvery: 9, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	g.Append(40)
	var quoted []attest.PCRBank
	err = dev.Do(func(tr transport.TPM) error {
		for i := range g.Len() {
			ext := tpm2.PCRExtend{
				PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(ima.PCR), Auth: tpm2.PasswordAuth(nil)},
				Digests: tpm2.TPMLDigestValues{Digests: []tpm2.TPMTHA{
					{HashAlg: tpm2.TPMAlgSHA256, Digest: g.Extended("sha256")[i]},
					{HashAlg: tpm2.TPMAlgSHA384, Digest: g.Extended("sha384")[i]},
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
			rsp, err := tpm2.PCRRead{PCRSelectionIn: tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{
				{Hash: b.alg, PCRSelect: tpm2.PCClientCompatible.PCRs(ima.PCR)},
			}}}.Execute(tr)
			if err != nil {
				return err
			}
			quoted = append(quoted, attest.PCRBank{Bank: b.name, Values: map[int][]byte{ima.PCR: rsp.PCRValues.Digests[0].Buffer}})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range quoted {
		if !bytes.Equal(q.Values[ima.PCR], g.PCR10(q.Bank)) {
			t.Errorf("TPM PCR 10 (%s) = %x, generator says %x", q.Bank, q.Values[ima.PCR], g.PCR10(q.Bank))
		}
	}
	s, _ := ima.NewState(banks...)
	if n, faults := s.Replay(parse(t, g.Log()), quoted); n != 40 || faults != nil {
		t.Errorf("Replay against the TPM's PCR 10 = %d, %v; want 40, nil", n, faults)
	}
}
