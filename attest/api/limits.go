package api

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/throttle"
	"tep.dev/tep/attest/verifier"
)

// Defaults of the enrolment limits (Config). 50 enrolments a second,
// after a burst of 200, enrol a fleet of 5,000 devices that boot at
// once in under two minutes (each refused device is given an
// appointment, so they come back spread at that rate), and keep the
// enrolments' costly work (an EK certificate chain, a credential, a
// database row: about 1.7 ms of CPU each, measured on the 2-core test
// machine, against 0.2 ms for a refusal by the cheap checks) under a
// tenth of one core, beside the attestations of the hosts already
// enrolled.
// A source address may be refused 10 times at once, then once a
// second: enough for a device that retries a mistake, not for a flood.
const (
	DefaultEnrollRate     = 50
	DefaultEnrollBurst    = 200
	DefaultRefusedRate    = 1
	DefaultRefusedBurst   = 10
	DefaultRefusedSources = 16384
)

// Reasons of refused enrolments and activations, as Config.Refused is
// told them (the reason label of tep_enrollments_refused_total).
const (
	// RefusedRateLimit: the global bucket was empty (429).
	RefusedRateLimit = "rate_limited"
	// RefusedSourceLimit: the source address had spent its refusals (429).
	RefusedSourceLimit = "source_limited"
	// RefusedMalformed: a malformed or oversized request (400, 413).
	RefusedMalformed = "malformed"
	// RefusedUnauthorised: no usable token, and an EK not on the allow
	// list (403).
	RefusedUnauthorised = "unauthorised"
	// RefusedUntrustedEK: an EK certificate that does not chain to the
	// EK CAs or is not the EK's (422).
	RefusedUntrustedEK = "untrusted_ek"
	// RefusedConflict: the host is enrolled with another EK (409).
	RefusedConflict = "conflict"
	// RefusedActivation: an activation of an unknown or expired
	// enrolment, or with the wrong secret.
	RefusedActivation = "activation"
)

// RefusalReasons lists every reason, for metrics that show each from
// the start.
var RefusalReasons = []string{RefusedRateLimit, RefusedSourceLimit, RefusedMalformed, RefusedUnauthorised, RefusedUntrustedEK, RefusedConflict, RefusedActivation}

// limitError is a request turned away by a rate limit: 429, with
// Retry-After.
type limitError struct {
	reason string
	retry  time.Duration
}

func (e *limitError) Error() string {
	if e.reason == RefusedSourceLimit {
		return fmt.Sprintf("too many refused enrolments from this address; retry after %s s", throttle.RetryAfter(e.retry))
	}
	return fmt.Sprintf("too many enrolments at once; retry after %s s", throttle.RetryAfter(e.retry))
}

// limits are the server's enrolment limits.
type limits struct {
	global  *throttle.Global
	sources *throttle.Sources
	refused func(reason string)
	now     func() time.Time
}

func newLimits(cfg Config) *limits {
	l := &limits{
		global:  throttle.NewGlobal(cfg.EnrollRate, cfg.EnrollBurst),
		sources: throttle.NewSources(cfg.RefusedRate, cfg.RefusedBurst, cfg.RefusedSources),
		refused: cfg.Refused,
		now:     time.Now,
	}
	if l.refused == nil {
		l.refused = func(string) {}
	}
	return l
}

// defaultLimits fills in Config's zero limits.
func defaultLimits(cfg *Config) {
	if cfg.EnrollRate == 0 {
		cfg.EnrollRate = DefaultEnrollRate
	}
	if cfg.EnrollBurst == 0 {
		cfg.EnrollBurst = DefaultEnrollBurst
	}
	if cfg.RefusedRate == 0 {
		cfg.RefusedRate = DefaultRefusedRate
	}
	if cfg.RefusedBurst == 0 {
		cfg.RefusedBurst = DefaultRefusedBurst
	}
	if cfg.RefusedSources == 0 {
		cfg.RefusedSources = DefaultRefusedSources
	}
}

// NoLimit is a rate that turns a limit off (Config.EnrollRate,
// Config.RefusedRate).
var NoLimit = math.Inf(1)

// limited runs an enrolment or activation endpoint h for a source that
// has not spent its refusals, and charges the source for h's refusal.
// The source is the connection's address, never a header such as
// X-Forwarded-For, which any client can write.
func (s *Server) limited(h handler) handler {
	return func(w http.ResponseWriter, r *http.Request) (int, any, error) {
		src := throttle.Key(r.RemoteAddr)
		if d := s.limits.sources.Wait(src, s.limits.now()); d > 0 {
			s.limits.refused(RefusedSourceLimit)
			return 0, nil, &limitError{RefusedSourceLimit, d}
		}
		code, v, err := h(w, r)
		reason := refusal(err)
		switch reason {
		case "":
		case RefusedRateLimit:
			// A source known for refusals that now crowds the global
			// bucket spends its own; see throttle.Sources.RefusedIfKept.
			s.limits.sources.RefusedIfKept(src, s.limits.now())
		default:
			s.limits.sources.Refused(src, s.limits.now())
		}
		if reason != "" {
			s.limits.refused(reason)
		}
		return code, v, err
	}
}

// admitEnroll takes the costly work of an enrolment from the global
// bucket.
func (s *Server) admitEnroll() error {
	if d := s.limits.global.Take(s.limits.now()); d > 0 {
		return &limitError{RefusedRateLimit, d}
	}
	return nil
}

// refusal is the reason an enrolment or activation was refused, "" if
// it was not (or failed on the verifier's side, 5xx).
func refusal(err error) string {
	if err == nil {
		return ""
	}
	var le *limitError
	if errors.As(err, &le) {
		return le.reason
	}
	var fe *verifier.FaultError
	switch code := status(err); {
	case code >= 500:
		return ""
	case code == http.StatusBadRequest || code == http.StatusRequestEntityTooLarge:
		return RefusedMalformed
	case code == http.StatusForbidden:
		return RefusedUnauthorised
	case errors.As(err, &fe) && fe.Fault.Name == attest.FaultEKCertUntrusted:
		return RefusedUntrustedEK
	case code == http.StatusConflict:
		return RefusedConflict
	}
	return RefusedActivation
}
