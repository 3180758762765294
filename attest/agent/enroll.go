package agent

import (
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"tep.dev/tep/attest"
)

// ErrEKMismatch is returned by Enroll when the EK recreated from its TCG
// template is not the key its certificate certifies.
var ErrEKMismatch = errors.New("the EK from the TCG template is not the certified key")

// Enroll makes a fresh AK, replacing any earlier one, and returns the
// enrolment request for hostID: EK certificate and public area, AK
// public area, host facts. token is the verifier's one-time enrolment
// token, if it wants one. The verifier must then activate the new AK
// (Activate) before it trusts quotes by it.
func (a *Agent) Enroll(hostID, token string) (attest.EnrollRequest, error) {
	if hostID == "" {
		return attest.EnrollRequest{}, errors.New("enrolling: no host id")
	}
	template, err := newAKTemplate(a.cfg.AK)
	if err != nil {
		return attest.EnrollRequest{}, fmt.Errorf("enrolling: %w", err)
	}
	req := attest.EnrollRequest{HostID: hostID, Token: token}
	var st state
	err = a.t.Do(func(tr transport.TPM) error {
		k, der, err := findEK(tr, a.cfg.EK)
		if err != nil {
			return err
		}
		if req.EKCert, req.EKPublic, err = ekPublic(tr, k, der); err != nil {
			return err
		}
		h, pub, err := loadAK(tr, template, nil)
		if err != nil {
			return err
		}
		flush(tr, h.Handle)
		req.AKPublic = pub
		st = state{HostID: hostID, EK: k.name, AKTemplate: template, AKName: h.Name.Buffer}
		return nil
	})
	if err != nil {
		return attest.EnrollRequest{}, fmt.Errorf("enrolling: %w", err)
	}
	if req.Facts, err = a.facts(); err != nil {
		return attest.EnrollRequest{}, fmt.Errorf("enrolling: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.save(&st); err != nil {
		return attest.EnrollRequest{}, fmt.Errorf("enrolling: saving state: %w", err)
	}
	return req, nil
}

// ekPublic recreates the EK of kind k and checks it against the
// certificate in der (which the NV index may pad); it returns the
// certificate, trimmed, and the EK's TPMT_PUBLIC.
func ekPublic(tr transport.TPM, k ekKind, der []byte) (cert, pub []byte, err error) {
	var raw asn1.RawValue
	rest, err := asn1.Unmarshal(der, &raw)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the %s EK certificate: %w", k.name, err)
	}
	cert = der[:len(der)-len(rest)]
	c, err := x509.ParseCertificate(cert)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the %s EK certificate: %w", k.name, err)
	}
	rsp, err := createEK(tr, k)
	if err != nil {
		return nil, nil, err
	}
	flush(tr, rsp.ObjectHandle)
	area, err := rsp.OutPublic.Contents()
	if err != nil {
		return nil, nil, err
	}
	key, err := tpm2.Pub(*area)
	if err != nil {
		return nil, nil, err
	}
	if eq, ok := key.(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(c.PublicKey) {
		return nil, nil, fmt.Errorf("%w (%s)", ErrEKMismatch, k.name)
	}
	return cert, rsp.OutPublic.Bytes(), nil
}
