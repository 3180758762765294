package agent

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"tep.dev/tep/attest"
)

// facts gathers the host facts: what the OS says of itself and what the
// TPM says of its maker and firmware.
func (a *Agent) facts() (attest.HostFacts, error) {
	var f attest.HostFacts
	var err error
	if f.Hostname, err = os.Hostname(); err != nil {
		return f, fmt.Errorf("reading host name: %w", err)
	}
	f.OS = osName("/etc/os-release")
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		f.Kernel = strings.TrimSpace(string(b))
	}
	err = a.t.Do(func(tr transport.TPM) error {
		props, err := properties(tr, tpm2.TPMPTManufacturer, tpm2.TPMPTFirmwareVersion1, tpm2.TPMPTFirmwareVersion2)
		if err != nil {
			return err
		}
		var v [4]byte
		for i := range v {
			v[i] = byte(props[0] >> (24 - 8*i))
		}
		f.TPMVendor = strings.TrimRight(string(bytes.TrimRight(v[:], "\x00")), " ")
		f.TPMFirmware = attest.FirmwareVersion(uint64(props[1])<<32 | uint64(props[2]))
		return nil
	})
	if err != nil {
		return f, fmt.Errorf("reading TPM properties: %w", err)
	}
	return f, nil
}

// properties reads fixed TPM properties (TPM_CAP_TPM_PROPERTIES).
func properties(tr transport.TPM, pts ...tpm2.TPMPT) ([]uint32, error) {
	out := make([]uint32, len(pts))
	for i, pt := range pts {
		rsp, err := tpm2.GetCapability{Capability: tpm2.TPMCapTPMProperties, Property: uint32(pt), PropertyCount: 1}.Execute(tr)
		if err != nil {
			return nil, err
		}
		props, err := rsp.CapabilityData.Data.TPMProperties()
		if err != nil {
			return nil, err
		}
		if len(props.TPMProperty) == 0 || props.TPMProperty[0].Property != pt {
			return nil, fmt.Errorf("TPM has no property %#x", pt)
		}
		out[i] = props.TPMProperty[0].Value
	}
	return out, nil
}

// osName reads PRETTY_NAME from an os-release file; "" if there is none.
func osName(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		v, ok := strings.CutPrefix(s.Text(), "PRETTY_NAME=")
		if !ok {
			continue
		}
		if u, err := strconv.Unquote(v); err == nil {
			return u
		}
		return strings.Trim(v, `"'`)
	}
	return ""
}
