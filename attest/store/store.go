package store

import (
	"context"
	"errors"
	"time"

	"tep.dev/tep/attest"
)

// Errors that callers branch on.
var (
	// ErrNotFound: no such row.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: the row exists already, or changed under the caller.
	ErrConflict = errors.New("store: conflict")
	// ErrUsed: a nonce or one-time token was used or has expired.
	ErrUsed = errors.New("store: used or expired")
)

// Host is an enrolled device: the EK it was bound to at its first
// enrolment and the AK it last activated.
type Host struct {
	ID string
	// EKHash is the SHA-256 of the EK's TPMT_PUBLIC: a host never
	// changes EK.
	EKHash   string
	EKPublic []byte
	EKCert   []byte
	// AKPublic and AKName are the activated AK's; empty until the first
	// activation.
	AKPublic []byte
	AKName   []byte
	Facts    attest.HostFacts
	// PullURL is where the verifier fetches evidence in pull mode, with
	// PullCert (DER) the agent's pinned TLS certificate; empty in push
	// mode.
	PullURL  string
	PullCert []byte
	// FlavorGroup names the flavor group the host is appraised against.
	FlavorGroup string
	// State is the appraisal state carried from one report to the next
	// (quote counters, IMA replay): opaque JSON to the store.
	State []byte
	// LastReport is the id of the newest report, "" before the first.
	LastReport string
	Created    time.Time
	Activated  time.Time
}

// Enrollment status values.
const (
	EnrollPending   = "pending"
	EnrollActivated = "activated"
)

// Enrollment is one enrolment in flight: what the agent sent, and a hash
// of the secret that the credential challenge carries (never the secret).
type Enrollment struct {
	ID         string
	HostID     string
	EKHash     string
	EKPublic   []byte
	EKCert     []byte
	AKPublic   []byte
	AKName     []byte
	SecretHash []byte
	Facts      attest.HostFacts
	PullURL    string
	PullCert   []byte
	Status     string
	Created    time.Time
	Expires    time.Time
}

// Token roles.
const (
	RoleAdmin   = "admin"
	RoleAuditor = "auditor"
	// RoleEnroll marks a one-time enrolment token.
	RoleEnroll = "enroll"
)

// Token is an operator's bearer token or a one-time enrolment token, kept
// as the SHA-256 of its value.
type Token struct {
	ID      string
	Hash    string
	Role    string
	Created time.Time
	// Expires is zero for a token that does not expire.
	Expires time.Time
	Revoked bool
	// UsedBy names the host that spent a one-time token.
	UsedBy string
}

// Policy kinds.
const (
	KindFlavor      = "flavor"
	KindFlavorGroup = "flavor_group"
	KindTemplate    = "template"
)

// Policy is a flavor, flavor group or flavor template: its JSON body as
// the policy packages define it, and the verifier's signature over it.
type Policy struct {
	Kind      string
	ID        string
	Name      string
	Body      []byte
	Signature []byte
	Created   time.Time
}

// Report is one stored trust report.
type Report struct {
	ID      string
	HostID  string
	Created time.Time
	Trusted bool
	// Body is the report's JSON, JWS its signed compact serialisation.
	Body []byte
	JWS  string
}

// ReportQuery selects reports: of one host (or all), created in
// [Since, Until) where set, newest first, at most Limit.
type ReportQuery struct {
	HostID string
	Since  time.Time
	Until  time.Time
	Limit  int
}

// Store is what the verifier keeps. Every method is one transaction.
// Implementations return the errors above (wrapped) where the method
// says so, and never lose a change they returned nil for.
type Store interface {
	// CreateEnrollment adds a pending enrolment.
	CreateEnrollment(ctx context.Context, e Enrollment) error
	// Enrollment returns an enrolment, or ErrNotFound.
	Enrollment(ctx context.Context, id string) (Enrollment, error)
	// RecentEnrollments counts the enrolments of the EK whose hash is
	// ekHash made after since, pending or activated.
	RecentEnrollments(ctx context.Context, ekHash string, since time.Time) (int, error)
	// PendingEnrollments returns a host's enrolments that are pending
	// and unexpired at now, newest first.
	PendingEnrollments(ctx context.Context, hostID string, now time.Time) ([]Enrollment, error)
	// Activate marks a pending, unexpired enrolment activated and binds
	// its AK to its host, creating the host at its first activation. It
	// returns ErrUsed for an enrolment that is not pending or has
	// expired, and ErrConflict when the host is bound to another EK.
	Activate(ctx context.Context, id string, now time.Time) (Host, error)

	// Host returns a host, or ErrNotFound; Hosts all of them by id.
	Host(ctx context.Context, id string) (Host, error)
	Hosts(ctx context.Context) ([]Host, error)
	// SetFlavorGroup assigns a host's flavor group (ErrNotFound).
	SetFlavorGroup(ctx context.Context, hostID, group string) error
	// DeleteHost removes a host and its reports (ErrNotFound).
	DeleteHost(ctx context.Context, id string) error

	// AddNonce records a nonce issued to a host at now, and drops the
	// host's oldest unspent nonces beyond keep, so that no one fills
	// the store (or a host's share of it) by asking for challenges.
	AddNonce(ctx context.Context, hostID string, nonce []byte, now, expires time.Time, keep int) error
	// UseNonce spends a nonce: ErrUsed unless it was issued to hostID,
	// is unspent and expires after now. It also drops expired nonces.
	UseNonce(ctx context.Context, hostID string, nonce []byte, now time.Time) error
	// PendingNonces counts a host's unspent, unexpired nonces.
	PendingNonces(ctx context.Context, hostID string, now time.Time) (int, error)

	// AddToken stores a token (by hash).
	AddToken(ctx context.Context, t Token) error
	// TokenByHash returns an unrevoked token, or ErrNotFound.
	TokenByHash(ctx context.Context, hash string) (Token, error)
	// RevokeToken revokes a token by id (ErrNotFound).
	RevokeToken(ctx context.Context, id string) error
	// Tokens lists every token.
	Tokens(ctx context.Context) ([]Token, error)
	// UseEnrollToken spends a one-time enrolment token for hostID:
	// ErrUsed unless it exists, is unrevoked, unspent and unexpired.
	UseEnrollToken(ctx context.Context, hash, hostID string, now time.Time) error
	// AllowEK puts an EK (its hash) on the allow list; EKAllowed asks.
	AllowEK(ctx context.Context, ekHash string) error
	EKAllowed(ctx context.Context, ekHash string) (bool, error)

	// PutPolicy adds or replaces a flavor, group or template by kind
	// and id.
	PutPolicy(ctx context.Context, p Policy) error
	// Policy returns one (ErrNotFound); Policies all of a kind by name.
	Policy(ctx context.Context, kind, id string) (Policy, error)
	Policies(ctx context.Context, kind string) ([]Policy, error)
	// DeletePolicy removes one (ErrNotFound).
	DeletePolicy(ctx context.Context, kind, id string) error

	// AddReport stores a report and, in the same transaction, the
	// host's new appraisal state and last report. prevState is the
	// state the appraisal started from: ErrConflict if another
	// appraisal changed it since, so no two reports build on one state.
	// It also spends the host's unspent nonces: evidence for a challenge
	// issued before this report was stored is refused (FaultQuoteNonce)
	// rather than appraised against a state newer than its quote.
	AddReport(ctx context.Context, r Report, prevState, state []byte) error
	// Report returns one (ErrNotFound); Reports those q selects;
	// Latest the newest report of every host that has one.
	Report(ctx context.Context, id string) (Report, error)
	Reports(ctx context.Context, q ReportQuery) ([]Report, error)
	Latest(ctx context.Context) ([]Report, error)

	// Scheduler shares scheduled pulls between replicas.
	Scheduler

	// Version is the schema version.
	Version(ctx context.Context) (int, error)
	Close() error
}
