package luks

// Stand-ins for tep.dev/tep/provisioning/device (PolicyKey, ReadCounter,
// RaiseCounter), same formats: replaced by it once it lands.

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"tep.dev/tep/provisioning"
	"tep.dev/tep/provisioning/pcrpolicy"
	"tep.dev/tep/tpm"
)

var errNotProvisioned = errors.New("device not provisioned")

func policyKey(t *tpm.TPM) (*ecdsa.PublicKey, error) {
	var pub *ecdsa.PublicKey
	err := t.Do(func(tr transport.TPM) error {
		rsp, err := tpm2.NVReadPublic{NVIndex: provisioning.PolicyKeyIndex}.Execute(tr)
		if errors.Is(err, tpm2.TPMRCHandle) {
			return fmt.Errorf("%w: no NV index 0x%08x; run `tep-provision device`", errNotProvisioned, uint32(provisioning.PolicyKeyIndex))
		}
		if err != nil {
			return err
		}
		nvp, err := rsp.NVPublic.Contents()
		if err != nil {
			return err
		}
		rd, err := tpm2.NVRead{
			AuthHandle: tpm2.AuthHandle{Handle: nvp.NVIndex, Name: rsp.NVName, Auth: tpm2.PasswordAuth(nil)},
			NVIndex:    tpm2.NamedHandle{Handle: nvp.NVIndex, Name: rsp.NVName},
			Size:       nvp.DataSize,
		}.Execute(tr)
		if err != nil {
			return err
		}
		k, err := x509.ParsePKIXPublicKey(rd.Data.Buffer)
		if err != nil {
			return err
		}
		var ok bool
		if pub, ok = k.(*ecdsa.PublicKey); !ok {
			return fmt.Errorf("NV holds a %T", k)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the policy key: %w", err)
	}
	return pub, nil
}

func readCounter(t *tpm.TPM, index tpm2.TPMHandle) (uint64, bool, error) {
	var v uint64
	var defined bool
	err := t.Do(func(tr transport.TPM) error {
		rsp, err := tpm2.NVReadPublic{NVIndex: index}.Execute(tr)
		if errors.Is(err, tpm2.TPMRCHandle) {
			return nil
		}
		if err != nil {
			return err
		}
		defined = true
		nvp, err := rsp.NVPublic.Contents()
		if err != nil || !nvp.Attributes.Written {
			return err
		}
		rd, err := tpm2.NVRead{
			AuthHandle: tpm2.AuthHandle{Handle: index, Name: rsp.NVName, Auth: tpm2.PasswordAuth(nil)},
			NVIndex:    tpm2.NamedHandle{Handle: index, Name: rsp.NVName},
			Size:       8,
		}.Execute(tr)
		if err != nil {
			return err
		}
		v = binary.BigEndian.Uint64(rd.Data.Buffer)
		return nil
	})
	return v, defined, err
}

func raiseCounter(t *tpm.TPM, index tpm2.TPMHandle, to uint64) error {
	for {
		v, defined, err := readCounter(t, index)
		if err != nil {
			return err
		}
		if defined && v >= to && v != 0 {
			if v > to {
				return fmt.Errorf("the counter is at %d, above %d", v, to)
			}
			return nil
		}
		if !defined {
			pub := pcrpolicy.CounterPublic(index)
			pub.Attributes.Written = false
			if _, err := (tpm2.NVDefineSpace{AuthHandle: ownerAuth, PublicInfo: tpm2.New2B(pub)}).Execute(t); err != nil {
				return err
			}
		}
		if _, err := (tpm2.NVIncrement{AuthHandle: ownerAuth, NVIndex: tpm2.NamedHandle{Handle: index}}).Execute(t); err != nil {
			return err
		}
		if to == 0 {
			return nil
		}
	}
}

// ensureCounter gives the counter its first value if it has none.
func ensureCounter(t *tpm.TPM, index tpm2.TPMHandle) (uint64, error) {
	v, defined, err := readCounter(t, index)
	if err != nil || (defined && v != 0) {
		return v, err
	}
	if err := raiseCounter(t, index, 0); err != nil {
		return 0, err
	}
	v, _, err = readCounter(t, index)
	return v, err
}
