package attest

import "fmt"

// FirmwareVersion formats a TPM firmware version, the 64-bit value of
// TPMS_ATTEST.firmwareVersion or TPM_PT_FIRMWARE_VERSION_1 (high 32 bits)
// and _2 (low 32 bits), as HostFacts.TPMFirmware holds it: four 16-bit
// parts, "major.minor.build.patch". The agent reports it and the verifier
// compares it with the signed quote's, so both format it here.
func FirmwareVersion(v uint64) string {
	return fmt.Sprintf("%d.%d.%d.%d", v>>48, v>>32&0xffff, v>>16&0xffff, v&0xffff)
}
