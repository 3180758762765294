package attest

// A Fault is one failed check in a trust report. Name is one of the
// names below (SecL's, where SecL has one, so that tools written for its
// reports read ours); Expected and Actual give the values that differed,
// in hex for digests.
type Fault struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// PCR and Bank locate a PCR fault; File an IMA one.
	PCR      *int   `json:"pcr,omitempty"`
	Bank     string `json:"bank,omitempty"`
	File     string `json:"file,omitempty"`
	Expected string `json:"expected,omitempty"`
	Actual   string `json:"actual,omitempty"`
}

// Fault names. The PCR and event-log names are SecL's; the quote and IMA
// names are this project's, for checks SecL does not make.
const (
	FaultPcrValueMissing                   = "PcrValueMissing"
	FaultPcrValueMismatchSHA1              = "PcrValueMismatchSHA1"
	FaultPcrValueMismatchSHA256            = "PcrValueMismatchSHA256"
	FaultPcrValueMismatchSHA384            = "PcrValueMismatchSHA384"
	FaultPcrEventLogMissing                = "PcrEventLogMissing"
	FaultPcrEventLogMissingExpectedEntries = "PcrEventLogMissingExpectedEntries"
	FaultPcrEventLogContainsUnexpected     = "PcrEventLogContainsUnexpectedEntries"
	FaultPcrEventLogInvalid                = "PcrEventLogInvalid"
	FaultFlavorSignatureNotTrusted         = "FlavorSignatureNotTrusted"
	FaultFlavorMissing                     = "FlavorMissing"

	FaultQuoteSignature    = "QuoteSignatureInvalid"
	FaultQuoteNotGenerated = "QuoteNotTPMGenerated"
	FaultQuoteType         = "QuoteTypeInvalid"
	FaultQuoteNonce        = "QuoteNonceMismatch"
	FaultQuoteSigner       = "QuoteSignerMismatch"
	FaultQuotePCRDigest    = "QuotePCRDigestMismatch"
	FaultQuoteBankMissing  = "QuoteBankMissing"
	FaultQuoteSHA1Only     = "QuoteSHA1Only"
	FaultQuoteResetCount   = "QuoteResetCountDecreased"
	FaultQuoteRestartCount = "QuoteRestartCountDecreased"
	FaultQuoteClock        = "QuoteClockWentBack"
	FaultQuoteNotSafe      = "QuoteClockNotSafe"
	FaultFirmwareMismatch  = "TPMFirmwareMismatch"
	FaultIMALogInvalid     = "ImaLogInvalid"
	FaultIMAReplayMismatch = "ImaLogReplayMismatch"
	FaultIMAFileUnknown    = "ImaFileNotInPolicy"
	FaultIMAFileDigest     = "ImaFileDigestMismatch"
	FaultEvidenceTooLarge  = "EvidenceTooLarge"
	FaultAKNotActivated    = "AKNotActivated"
	FaultEKCertUntrusted   = "EKCertificateUntrusted"
	// FaultEvidenceHost: a pulled host answered with another host's
	// evidence (its agent, or whoever answered on its NATS subject).
	FaultEvidenceHost = "EvidenceHostMismatch"
)
