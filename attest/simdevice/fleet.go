package simdevice

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"time"
)

// Config describes a fleet of simulated devices. Its zero value works: no
// devices until Devices is set, P-256 EKs and AKs, sha256 and sha384
// banks, no IMA log.
type Config struct {
	// Devices is how many devices New makes.
	Devices int
	// HostPrefix starts every host id, which ends with the device's
	// index in five digits; empty is "sim-".
	HostPrefix string
	// EK and AK are the key types (KeyRSA2048, KeyP256, KeyP384 for the
	// EK; KeyP256 or KeyRSA2048 for the AK); empty is KeyP256. An RSA
	// key costs about a hundred times an ECC key to make.
	EK, AK string
	// Banks are the PCR banks the devices have; empty is sha256 and
	// sha384.
	Banks []string
	// IMA is the source of the IMA log the devices share (an
	// imagen.Generator computing every bank in Banks); nil leaves the
	// devices without a log and PCR 10 at zero.
	IMA LogSource
	// IMAEntries is the length of each device's log at its first report;
	// IMAStep how many entries its log grows by before each later one.
	IMAEntries, IMAStep int
	// CA issues the EK certificates; nil makes a new one (Fleet.CA).
	CA *CA
	// Rand is the randomness of keys, certificates and signatures; nil
	// is crypto/rand.
	Rand io.Reader
	// Now is the devices' time, from which their TPM clocks run; nil is
	// time.Now.
	Now func() time.Time
	// Firmware is the TPM firmware version (TPMS_ATTEST.firmwareVersion);
	// zero is 2.0.1.0.
	Firmware uint64
}

// defaultFirmware is firmware version 2.0.1.0 in four 16-bit parts.
const defaultFirmware = 0x0002_0000_0001_0000

// Fleet is a set of simulated devices with their EK CA.
type Fleet struct {
	CA      *CA
	Devices []*Device

	byHost map[string]*Device
}

// fleetShared is what every device of a fleet reads and never changes.
type fleetShared struct {
	cfg   Config
	banks []bank
	boot  map[string][][]byte // boot PCR values by bank, PCRs 0 to 23
	log   *sharedLog          // nil without an IMA log
}

// New makes cfg.Devices devices, and a CA unless cfg.CA is set.
func New(cfg Config) (*Fleet, error) {
	sh, err := newShared(cfg)
	if err != nil {
		return nil, err
	}
	cfg = sh.cfg
	f := &Fleet{CA: cfg.CA, byHost: map[string]*Device{}}
	if f.CA == nil {
		if f.CA, err = NewCA(cfg.Rand); err != nil {
			return nil, err
		}
	}
	for i := range cfg.Devices {
		d, err := newDevice(fmt.Sprintf("%s%05d", cfg.HostPrefix, i), f.CA, sh)
		if err != nil {
			return nil, fmt.Errorf("making device %d: %w", i, err)
		}
		f.Devices = append(f.Devices, d)
		f.byHost[d.HostID] = d
	}
	return f, nil
}

// Lookup returns the device with hostID, or nil.
func (f *Fleet) Lookup(hostID string) *Device { return f.byHost[hostID] }

// newShared applies cfg's defaults and computes the boot PCRs.
func newShared(cfg Config) (*fleetShared, error) {
	if cfg.HostPrefix == "" {
		cfg.HostPrefix = "sim-"
	}
	if cfg.EK == "" {
		cfg.EK = KeyP256
	}
	if cfg.AK == "" {
		cfg.AK = KeyP256
	}
	cfg.Banks = slices.Clone(cfg.Banks)
	if len(cfg.Banks) == 0 {
		cfg.Banks = []string{"sha256", "sha384"}
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Firmware == 0 {
		cfg.Firmware = defaultFirmware
	}
	if cfg.IMAEntries < 0 || cfg.IMAStep < 0 {
		return nil, fmt.Errorf("IMA log of %d entries growing by %d", cfg.IMAEntries, cfg.IMAStep)
	}
	sh := &fleetShared{cfg: cfg, boot: map[string][][]byte{}}
	for _, name := range cfg.Banks {
		b, err := bankByName(name)
		if err != nil {
			return nil, err
		}
		sh.banks = append(sh.banks, b)
		sh.boot[name] = bootPCRs(b)
	}
	if cfg.IMA != nil {
		sh.log = newSharedLog(cfg.IMA, sh.banks)
	}
	return sh, nil
}

// bootPCRs are PCRs 0 to 23 of a booted simulated device in bank b: PCRs
// 0 to 9 extended once each with a digest of their own, the same on
// every device so that one flavor matches the fleet; PCR 10 is the IMA
// log's (set per report) and the rest stay zero.
func bootPCRs(b bank) [][]byte {
	pcrs := make([][]byte, maxPCR+1)
	for i := range pcrs {
		pcrs[i] = make([]byte, b.hash.Size())
		if i < 10 {
			d := b.hash.New()
			d.Write(binary.BigEndian.AppendUint32([]byte("tep simdevice boot PCR "), uint32(i)))
			pcrs[i] = extend(b.hash, pcrs[i], d.Sum(nil))
		}
	}
	return pcrs
}
