package verifier

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"time"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/store"
)

// Defaults of Config's zero values.
const (
	DefaultEnrollTTL     = 5 * time.Minute
	DefaultNonceTTL      = 2 * time.Minute
	DefaultPendingNonces = 4
	// secretSize is the credential secret's size: the EK's name
	// algorithm's digest size (SHA-256), the most ActivateCredential
	// returns (TPM 2.0 Part 3, 12.5).
	secretSize = 32
	nonceSize  = 32
)

// DefaultPCRs are the PCRs quoted unless Config says otherwise: firmware
// and boot chain (0-7), and what the OS measures (8-10, IMA in 10).
var DefaultPCRs = []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}

// DefaultBanks are the banks quoted unless Config says otherwise.
var DefaultBanks = []string{"sha256", "sha384"}

// EKChecker checks an EK certificate's chain against the verifier's CA
// bundle and that it certifies ekPublic (a TPMT_PUBLIC); a non-nil error
// says why not.
type EKChecker interface {
	Check(cert, ekPublic []byte) error
}

// CredentialMaker runs TPM2_MakeCredential in software: a credential
// blob in tpm2-tools' file format that only the TPM holding ekPublic can
// open, and only for an object named akName.
type CredentialMaker func(ekPublic, akName, secret []byte) ([]byte, error)

// Config sets a Verifier up. Store, EK, Credential, Appraiser and
// Policies are required; the other zero values pick the defaults.
type Config struct {
	Store      store.Store
	EK         EKChecker
	Credential CredentialMaker
	Appraiser  Appraiser
	Policies   PolicyBook
	// Fetcher reaches pull-mode agents; nil disables pull mode.
	Fetcher Fetcher

	EnrollTTL time.Duration
	NonceTTL  time.Duration
	// PendingNonces bounds a host's unspent nonces: a new challenge
	// drops the oldest beyond it, so that no one fills the store by
	// asking for challenges, nor keeps a host from getting one.
	PendingNonces int
	PCRs          []int
	Banks         []string

	// Replica names this verifier among the replicas that share its
	// store's scheduled pulls; empty is DefaultReplica().
	Replica string

	Log  *slog.Logger
	Now  func() time.Time
	Rand io.Reader
}

// Verifier is the verifier's logic over a store.
type Verifier struct {
	cfg Config
}

// New returns a Verifier. cfg is copied; the caller's is left alone.
func New(cfg Config) *Verifier {
	if cfg.EnrollTTL <= 0 {
		cfg.EnrollTTL = DefaultEnrollTTL
	}
	if cfg.NonceTTL <= 0 {
		cfg.NonceTTL = DefaultNonceTTL
	}
	if cfg.PendingNonces <= 0 {
		cfg.PendingNonces = DefaultPendingNonces
	}
	if len(cfg.PCRs) == 0 {
		cfg.PCRs = DefaultPCRs
	}
	if len(cfg.Banks) == 0 {
		cfg.Banks = DefaultBanks
	}
	if cfg.Replica == "" {
		cfg.Replica = DefaultReplica()
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	return &Verifier{cfg: cfg}
}

// Store is the verifier's store, for the API's listings.
func (v *Verifier) Store() store.Store { return v.cfg.Store }

func (v *Verifier) random(n int) ([]byte, error) {
	b := make([]byte, n)
	_, err := io.ReadFull(v.cfg.Rand, b)
	return b, err
}

// Fetcher asks a pull-mode agent for evidence.
type Fetcher interface {
	Fetch(ctx context.Context, h store.Host, req attest.QuoteRequest) (attest.Evidence, error)
}
