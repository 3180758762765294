package verifier

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/url"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/store"
)

// Size bounds of an enrolment's parts (TPM structures are far smaller;
// an EK certificate with a long chain of extensions stays under 4 KiB).
const (
	maxEKCert   = 8 << 10
	maxTPMTPub  = 1 << 10
	maxFactsLen = 256
	maxURLLen   = 512
)

// MaxRecentEnrollments bounds an EK's enrolments within one enrolment
// lifetime (Config.EnrollTTL): a device retrying after a failure needs
// one or two; a device on the allow list (whose EK certificate anyone
// who saw it may send) enrolling in a loop, under fresh host ids, would
// otherwise take the global enrolment rate from every other device,
// each enrolment doing the costly checks and storing a row.
const MaxRecentEnrollments = 4

// ekBusy refuses an EK that enrolled MaxRecentEnrollments times within
// the last enrolment lifetime (ErrConflict, which the API charges to
// the caller's address). It is a lookup, made before the costly checks.
func (v *Verifier) ekBusy(ctx context.Context, ek string) error {
	n, err := v.cfg.Store.RecentEnrollments(ctx, ek, v.cfg.Now().Add(-v.cfg.EnrollTTL))
	if err != nil {
		return err
	}
	if n >= MaxRecentEnrollments {
		return fmt.Errorf("%w: this EK enrolled %d times in the last %v; finish one of those enrolments or wait", ErrConflict, n, v.cfg.EnrollTTL)
	}
	return nil
}

// Pull says how the verifier reaches a pull-mode agent: its URL and its
// TLS certificate (DER), which the verifier pins. Zero in push mode.
type Pull struct {
	URL  string
	Cert []byte
}

// Enroll checks an enrolment and answers with a credential challenge
// (see the package doc). The cheap refusals come first (CheckEnroll:
// bounds, the token looked up or the EK on the allow list), before the
// AK is parsed and the EK certificate's chain verified, so that a flood
// of enrolments from unknown EKs costs a database lookup each. The
// one-time token is spent only once every other check has passed.
func (v *Verifier) Enroll(ctx context.Context, req attest.EnrollRequest, pull Pull) (attest.Challenge, error) {
	ek, err := v.checkEnroll(ctx, req, pull)
	if err != nil {
		return attest.Challenge{}, err
	}
	if err := v.ekBusy(ctx, ek); err != nil {
		return attest.Challenge{}, err
	}
	name, err := akName(req.AKPublic)
	if err != nil {
		return attest.Challenge{}, err
	}
	if err := v.cfg.EK.Check(req.EKCert, req.EKPublic); err != nil {
		v.cfg.Log.Warn("enrolment refused: EK certificate", "host", req.HostID, "err", err)
		return attest.Challenge{}, fault(attest.FaultEKCertUntrusted, err.Error())
	}
	if h, err := v.cfg.Store.Host(ctx, req.HostID); err == nil && h.EKHash != ek {
		return attest.Challenge{}, fmt.Errorf("%w: host %q is enrolled with another EK", ErrConflict, req.HostID)
	}
	if err := v.spendToken(ctx, req); err != nil {
		return attest.Challenge{}, err
	}
	secret, err := v.random(secretSize)
	if err != nil {
		return attest.Challenge{}, err
	}
	cred, err := v.cfg.Credential(req.EKPublic, name, secret)
	if err != nil {
		return attest.Challenge{}, fmt.Errorf("%w: making the credential: %v", ErrInvalid, err)
	}
	sum := sha256.Sum256(secret)
	clear(secret)
	id, err := v.newID()
	if err != nil {
		return attest.Challenge{}, err
	}
	now := v.cfg.Now()
	e := store.Enrollment{
		ID: id, HostID: req.HostID, EKHash: ek, EKPublic: req.EKPublic, EKCert: req.EKCert,
		AKPublic: req.AKPublic, AKName: name, SecretHash: sum[:], Facts: req.Facts,
		PullURL: pull.URL, PullCert: pull.Cert, Created: now, Expires: now.Add(v.cfg.EnrollTTL),
	}
	if err := v.cfg.Store.CreateEnrollment(ctx, e); err != nil {
		return attest.Challenge{}, err
	}
	v.cfg.Log.Info("enrolment challenged", "host", req.HostID, "enrollment", id, "ek", ek[:16])
	return attest.Challenge{EnrollmentID: id, Credential: cred, Expires: e.Expires}, nil
}

// CheckEnroll makes an enrolment's cheap checks, those Enroll makes
// first: the bounds of its parts, and its one-time token (looked up,
// not spent) or, without one, its EK on the allow list. It neither
// parses the AK nor verifies the EK certificate. The API calls it
// before it lets an enrolment take from its rate limit: an enrolment
// refused here costs the verifier little.
func (v *Verifier) CheckEnroll(ctx context.Context, req attest.EnrollRequest, pull Pull) error {
	_, err := v.checkEnroll(ctx, req, pull)
	return err
}

// checkEnroll is CheckEnroll, returning the EK's hash.
func (v *Verifier) checkEnroll(ctx context.Context, req attest.EnrollRequest, pull Pull) (string, error) {
	if err := checkBounds(req, pull); err != nil {
		return "", err
	}
	ek, err := ekHash(req.EKPublic)
	if err != nil {
		return "", err
	}
	if req.Token != "" {
		return ek, v.lookUpToken(ctx, req.Token)
	}
	ok, err := v.cfg.Store.EKAllowed(ctx, ek)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("%w: no enrolment token, and the EK is not on the allow list", ErrUnauthorized)
	}
	return ek, nil
}

func checkBounds(req attest.EnrollRequest, pull Pull) error {
	f := req.Facts
	switch {
	case !ValidHostID(req.HostID):
		return fmt.Errorf("%w: host id %q: 1-63 letters, digits, '.', '_' or '-'", ErrInvalid, req.HostID)
	case len(req.EKCert) == 0 || len(req.EKCert) > maxEKCert:
		return fmt.Errorf("%w: EK certificate of %d bytes", ErrInvalid, len(req.EKCert))
	case len(req.EKPublic) == 0 || len(req.EKPublic) > maxTPMTPub || len(req.AKPublic) == 0 || len(req.AKPublic) > maxTPMTPub:
		return fmt.Errorf("%w: EK or AK public area missing or too large", ErrInvalid)
	case len(f.Hostname) > maxFactsLen || len(f.OS) > maxFactsLen || len(f.Kernel) > maxFactsLen || len(f.TPMVendor) > maxFactsLen || len(f.TPMFirmware) > maxFactsLen:
		return fmt.Errorf("%w: host facts longer than %d bytes", ErrInvalid, maxFactsLen)
	}
	return checkPull(req.HostID, pull)
}

// errBadToken is the refusal of a token that is not a usable one-time
// enrolment token, whether looked up or spent.
var errBadToken = fmt.Errorf("%w: the enrolment token is unknown, used, revoked or expired", ErrUnauthorized)

// lookUpToken refuses a token that is not an unused, unexpired one-time
// enrolment token, without spending it.
func (v *Verifier) lookUpToken(ctx context.Context, token string) error {
	t, err := v.cfg.Store.TokenByHash(ctx, HashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return errBadToken
	}
	if err != nil {
		return err
	}
	if t.Role != store.RoleEnroll || t.UsedBy != "" || (!t.Expires.IsZero() && !v.cfg.Now().Before(t.Expires)) {
		return errBadToken
	}
	return nil
}

// httpsURL says whether a pull URL is one the verifier may call: https,
// so that the pinned certificate is checked at all (an http URL would
// send quote requests in the clear, and let an enrolled agent make the
// verifier post to any plain-HTTP service it can reach).
func httpsURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "https" && u.Host != "" && u.User == nil && u.RawQuery == "" && u.Fragment == "" && !u.ForceQuery
}

// spendToken spends the enrolment's one-time token, if it has one (an
// enrolment without one had its EK found on the allow list). Another
// enrolment may have spent it since CheckEnroll looked it up.
func (v *Verifier) spendToken(ctx context.Context, req attest.EnrollRequest) error {
	if req.Token == "" {
		return nil
	}
	err := v.cfg.Store.UseEnrollToken(ctx, HashToken(req.Token), req.HostID, v.cfg.Now())
	if errors.Is(err, store.ErrUsed) {
		return errBadToken
	}
	return err
}

// Activate binds an enrolment's AK to its host if the secret is the one
// the challenge carried (see the package doc).
func (v *Verifier) Activate(ctx context.Context, a attest.Activation) (store.Host, error) {
	e, err := v.cfg.Store.Enrollment(ctx, a.EnrollmentID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Host{}, fmt.Errorf("%w: enrolment %q", ErrNotFound, a.EnrollmentID)
	}
	if err != nil {
		return store.Host{}, err
	}
	if e.Status != store.EnrollPending || !v.cfg.Now().Before(e.Expires) {
		return store.Host{}, ErrExpired
	}
	sum := sha256.Sum256(a.Secret)
	if subtle.ConstantTimeCompare(sum[:], e.SecretHash) != 1 {
		v.cfg.Log.Warn("activation refused: wrong secret", "host", e.HostID, "enrollment", e.ID)
		return store.Host{}, fault(attest.FaultAKNotActivated, "the secret is not the one the credential carried")
	}
	h, err := v.cfg.Store.Activate(ctx, e.ID, v.cfg.Now())
	switch {
	case errors.Is(err, store.ErrUsed):
		return store.Host{}, ErrExpired
	case errors.Is(err, store.ErrConflict):
		return store.Host{}, fmt.Errorf("%w: %v", ErrConflict, err)
	case err != nil:
		return store.Host{}, err
	}
	v.cfg.Log.Info("AK activated", "host", h.ID, "enrollment", e.ID)
	return h, nil
}
