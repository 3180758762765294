package attest

import "testing"

func TestFirmwareVersion(t *testing.T) {
	// swtpm 0.7's TPM_PT_FIRMWARE_VERSION_1 and _2.
	if got := FirmwareVersion(0x20191023_00163636); got != "8217.4131.22.13878" {
		t.Errorf("FirmwareVersion = %q, want 8217.4131.22.13878", got)
	}
}
