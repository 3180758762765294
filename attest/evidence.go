package attest

import "time"

// HostFacts describe the device an agent runs on. Flavor templates select
// flavor parts by them, and the firmware version is checked where a
// flavor names one.
type HostFacts struct {
	Hostname string `json:"hostname"`
	// OS is the distribution's name and version (os-release's
	// PRETTY_NAME); Kernel is the running kernel's release.
	OS     string `json:"os"`
	Kernel string `json:"kernel"`
	// TPMVendor is the TPM's manufacturer as four ASCII characters
	// (TPM_PT_MANUFACTURER); TPMFirmware its firmware version
	// (TPM_PT_FIRMWARE_VERSION_1 and _2) as "major.minor.build.patch"
	// in 16-bit parts.
	TPMVendor   string `json:"tpm_vendor"`
	TPMFirmware string `json:"tpm_firmware"`
}

// EnrollRequest is an agent's enrolment (attune): its TPM's endorsement
// key with its certificate, a fresh attestation key, and facts about the
// host.
type EnrollRequest struct {
	// HostID is the name the agent asks to be known by; the verifier
	// binds it to the EK.
	HostID string `json:"host_id"`
	// Token is a one-time enrolment token, unless the verifier allows
	// this EK by its allow list.
	Token string `json:"token,omitempty"`
	// EKCert is the EK certificate in DER as read from its NV index;
	// EKPublic the EK's TPMT_PUBLIC.
	EKCert   []byte `json:"ek_cert"`
	EKPublic []byte `json:"ek_public"`
	// AKPublic is the AK's TPMT_PUBLIC: a restricted signing key,
	// fixedTPM, fixedParent, sensitiveDataOrigin.
	AKPublic []byte    `json:"ak_public"`
	Facts    HostFacts `json:"facts"`
}

// Challenge is the verifier's answer to an enrolment (atelic): only the
// credential blob that TPM2_MakeCredential made for the EK and the AK's
// name, never the secret inside it.
type Challenge struct {
	EnrollmentID string `json:"enrollment_id"`
	// Credential is in tpm2-tools' file format (magic 0xBADCC0DE,
	// version 1, TPM2B_ID_OBJECT, TPM2B_ENCRYPTED_SECRET), so
	// tpm2_activatecredential can read it.
	Credential []byte    `json:"credential"`
	Expires    time.Time `json:"expires"`
}

// Activation is the agent's proof that its AK lives beside its EK: the
// secret that TPM2_ActivateCredential recovered.
type Activation struct {
	EnrollmentID string `json:"enrollment_id"`
	Secret       []byte `json:"secret"`
}

// QuoteRequest asks an enrolled agent for evidence.
type QuoteRequest struct {
	// Nonce is fresh, single-use and expires; it goes into the quote
	// as qualifying data.
	Nonce []byte `json:"nonce"`
	// PCRs lists the PCR indices to quote in each of Banks
	// ("sha1", "sha256", "sha384", "sha512").
	PCRs  []int    `json:"pcrs"`
	Banks []string `json:"banks"`
	// IMAFrom is the number of IMA log entries the verifier already
	// holds: the agent sends the entries from there on. FullIMA asks
	// for the whole log instead.
	IMAFrom int  `json:"ima_from"`
	FullIMA bool `json:"full_ima,omitempty"`
}

// Evidence is one attestation's answer.
type Evidence struct {
	HostID string `json:"host_id"`
	Nonce  []byte `json:"nonce"`
	// Quote is the TPMS_ATTEST the TPM produced, Signature its
	// TPMT_SIGNATURE by the AK.
	Quote     []byte `json:"quote"`
	Signature []byte `json:"signature"`
	// PCRs are the quoted values, by bank.
	PCRs []PCRBank `json:"pcrs"`
	// IMALog holds IMA binary_runtime_measurements entries, the first
	// of which is entry number IMAFrom of the log.
	IMALog  []byte `json:"ima_log,omitempty"`
	IMAFrom int    `json:"ima_from"`
	// BootLog is the TCG boot event log (binary_bios_measurements)
	// where the platform has one.
	BootLog []byte    `json:"boot_log,omitempty"`
	Facts   HostFacts `json:"facts"`
}

// PCRBank holds one bank's quoted PCR values.
type PCRBank struct {
	// Bank is "sha1", "sha256", "sha384" or "sha512".
	Bank   string         `json:"bank"`
	Values map[int][]byte `json:"values"`
}
