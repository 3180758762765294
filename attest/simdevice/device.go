package simdevice

import (
	"bytes"
	"fmt"
	"sync"
	"time"

	"github.com/google/go-tpm/tpm2"

	"tep.dev/tep/attest"
)

// Identity of the simulated TPM, as its EK certificate and host facts
// give it: manufacturer "TEPS" (4 ASCII bytes, as TPM_PT_MANUFACTURER).
const (
	tpmVendor       = "TEPS"
	tpmManufacturer = "id:54455053"
	tpmModel        = "tep-simdevice"
)

// Device is one simulated device: its host id, keys, EK certificate,
// TPM clock and the length of its IMA log.
type Device struct {
	HostID string

	sh       *fleetShared
	ek       *ekKey
	ak       *akKey
	ekCert   []byte
	ekPublic []byte
	akPublic []byte
	facts    attest.HostFacts

	mu      sync.Mutex
	born    time.Time
	clock   uint64 // the last TPMS_CLOCK_INFO.clock reported
	imaLen  int    // entries in this device's log
	reports int
}

// newDevice makes a device's keys and has ca certify its EK.
func newDevice(hostID string, ca *CA, sh *fleetShared) (*Device, error) {
	cfg := sh.cfg
	ek, err := newEK(cfg.EK, cfg.Rand)
	if err != nil {
		return nil, err
	}
	ak, err := newAK(cfg.AK, cfg.Rand)
	if err != nil {
		return nil, err
	}
	fw := attest.FirmwareVersion(cfg.Firmware)
	info := tpmInfo{Manufacturer: tpmManufacturer, Model: tpmModel, Version: fmt.Sprintf("id:%08X", cfg.Firmware>>32)}
	cert, err := ca.issueEK(cfg.Rand, ek.pub, info)
	if err != nil {
		return nil, err
	}
	return &Device{
		HostID:   hostID,
		sh:       sh,
		ek:       ek,
		ak:       ak,
		ekCert:   cert,
		ekPublic: tpm2.Marshal(ek.public),
		akPublic: tpm2.Marshal(ak.public),
		facts: attest.HostFacts{
			Hostname: hostID, OS: "TEP simulated device", Kernel: "6.1.0-tep-sim",
			TPMVendor: tpmVendor, TPMFirmware: fw,
		},
		born:   cfg.Now(),
		imaLen: cfg.IMAEntries,
	}, nil
}

// Enroll returns the device's enrolment, as the agent's Enroll does:
// EK certificate, EK and AK public areas, host facts.
func (d *Device) Enroll(token string) attest.EnrollRequest {
	return attest.EnrollRequest{
		HostID:   d.HostID,
		Token:    token,
		EKCert:   bytes.Clone(d.ekCert),
		EKPublic: bytes.Clone(d.ekPublic),
		AKPublic: bytes.Clone(d.akPublic),
		Facts:    d.facts,
	}
}

// AKName returns the AK's name (a TPM2B_NAME's contents: nameAlg and
// digest of the AK's TPMT_PUBLIC).
func (d *Device) AKName() []byte { return bytes.Clone(d.ak.name) }

// IMALen returns how many entries the device's IMA log holds.
func (d *Device) IMALen() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.imaLen
}
