package api

import (
	"bytes"
	"context"
	"crypto"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"tep.dev/tep/attest/store"
	"tep.dev/tep/attest/verifier"
)

// Defaults of Config's zero values.
const (
	DefaultMaxBody        = 64 << 10
	DefaultMaxEvidence    = 16 << 20
	DefaultMaxPolicy      = 1 << 20
	DefaultRequestTimeout = 30 * time.Second
	// admitWait is how long an evidence request waits for a free
	// appraisal slot before it is told to come back later.
	admitWait = 5 * time.Second
)

var (
	errBadJSON    = errors.New("malformed JSON")
	errOverloaded = errors.New("the verifier is busy; try again later")
)

// Config sets a Server up; Verifier is required, the other zero values
// pick the defaults.
type Config struct {
	Verifier *verifier.Verifier
	Log      *slog.Logger
	// MaxBody bounds every request body but evidence (MaxEvidence) and
	// policies (MaxPolicy).
	MaxBody, MaxEvidence, MaxPolicy int64
	RequestTimeout                  time.Duration
	// Appraisals bounds the evidence requests appraised at once
	// (default: twice the CPUs), so that a flood cannot take all CPU
	// from the other hosts. A request takes its slot only once its body
	// has arrived: a client that sends slowly holds no slot.
	Appraisals int
	// EvidenceMemory bounds the bytes of evidence bodies being read at
	// once (default Appraisals times MaxEvidence); a body that finds it
	// spent is refused as busy. A slow client holds only what it sent.
	EvidenceMemory int64
	// ReportKey is the public key of the report-signing key. With it a
	// report is shown as its JWS says (host, time, trusted, body), not
	// as the store's columns say, so that an edited row cannot show a
	// host trusted; a report whose JWS does not verify is shown
	// untrusted, without a body. Without it the columns are shown.
	ReportKey crypto.PublicKey
	// EnrollRate and EnrollBurst are the global bucket of enrolments'
	// costly work, in enrolments a second (default DefaultEnrollRate,
	// DefaultEnrollBurst; NoLimit turns it off): an enrolment that
	// passed the cheap checks (verifier.CheckEnroll) and finds it empty
	// is answered 429 with a Retry-After. Activations, challenges and
	// evidence do not take from it.
	EnrollRate  float64
	EnrollBurst int
	// RefusedRate and RefusedBurst are each source address's bucket of
	// refused enrolments and activations (default DefaultRefusedRate,
	// DefaultRefusedBurst; NoLimit turns it off); a source that has
	// spent it is answered 429 before its request is read.
	// RefusedSources bounds the addresses kept (default
	// DefaultRefusedSources).
	RefusedRate    float64
	RefusedBurst   int
	RefusedSources int
	// Refused, if not nil, is told the reason (Refused* constants) of
	// every enrolment and activation refused, for metrics.
	Refused func(reason string)
}

// Server serves the verifier's API.
type Server struct {
	cfg    Config
	v      *verifier.Verifier
	log    *slog.Logger
	admit  chan struct{}
	memory budget
	limits *limits
	mux    *http.ServeMux
}

// New returns a Server; cfg is copied.
func New(cfg Config) *Server {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.MaxEvidence <= 0 {
		cfg.MaxEvidence = DefaultMaxEvidence
	}
	if cfg.MaxPolicy <= 0 {
		cfg.MaxPolicy = DefaultMaxPolicy
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.Appraisals <= 0 {
		cfg.Appraisals = 2 * runtime.GOMAXPROCS(0)
	}
	if cfg.EvidenceMemory <= 0 {
		cfg.EvidenceMemory = int64(cfg.Appraisals) * cfg.MaxEvidence
	}
	defaultLimits(&cfg)
	s := &Server{cfg: cfg, v: cfg.Verifier, log: cfg.Log, admit: make(chan struct{}, cfg.Appraisals), limits: newLimits(cfg), mux: http.NewServeMux()}
	s.memory.left = cfg.EvidenceMemory
	s.routes()
	return s
}

// Handler is the API's HTTP handler.
func (s *Server) Handler() http.Handler { return s }

// ServeHTTP bounds the request's time, recovers from a panic (a bug
// must not take the other hosts down), and routes it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic in a handler", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p))
			writeJSON(w, http.StatusInternalServerError, ErrorBody{Error: "internal error"})
		}
	}()
	s.mux.ServeHTTP(w, r.WithContext(ctx))
}

// handler is an endpoint that returns its reply or an error.
type handler func(w http.ResponseWriter, r *http.Request) (int, any, error)

// role is who may call an endpoint.
type role int

const (
	anyone role = iota
	auditor
	admin
)

func (s *Server) handle(pattern string, who role, h handler) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if err := s.authorise(r, who); err != nil {
			writeError(w, s.log, r, err)
			return
		}
		code, v, err := h(w, r)
		if err != nil {
			writeError(w, s.log, r, err)
			return
		}
		if v == nil {
			w.WriteHeader(code)
			return
		}
		writeJSON(w, code, v)
	})
}

// authorise checks an operator's role: a verified client certificate's
// organisational unit, or a bearer token.
func (s *Server) authorise(r *http.Request, who role) error {
	if who == anyone {
		return nil
	}
	var got string
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		ous := r.TLS.VerifiedChains[0][0].Subject.OrganizationalUnit
		switch {
		case slices.Contains(ous, store.RoleAdmin):
			got = store.RoleAdmin
		case slices.Contains(ous, store.RoleAuditor):
			got = store.RoleAuditor
		}
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && got == "" {
		role, err := s.v.OperatorRole(r.Context(), strings.TrimSpace(tok))
		if errors.Is(err, verifier.ErrUnauthorized) {
			return errUnauthenticated
		}
		if err != nil {
			return err
		}
		got = role
	}
	switch {
	case got == "":
		return errUnauthenticated
	case who == admin && subtle.ConstantTimeCompare([]byte(got), []byte(store.RoleAdmin)) != 1:
		return errForbidden
	}
	return nil
}

// decode reads a bounded JSON body into v: one value, no unknown
// fields, nothing after it.
func decode(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return err
	}
	return decodeJSON(body, v)
}

func decodeJSON(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", errBadJSON, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: data after the JSON value", errBadJSON)
	}
	return nil
}

// budget is a count of bytes that readers take as their data arrives.
type budget struct {
	mu   sync.Mutex
	left int64
}

func (b *budget) take(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > b.left {
		return false
	}
	b.left -= n
	return true
}

func (b *budget) give(n int64) {
	b.mu.Lock()
	b.left += n
	b.mu.Unlock()
}

// readEvidence reads an evidence body of at most MaxEvidence bytes into
// a buffer that grows as bytes arrive, taking each growth from the
// memory budget; release gives it back. A client that sends nothing
// holds 512 bytes.
func (s *Server) readEvidence(w http.ResponseWriter, r *http.Request) (body []byte, release func(), err error) {
	var held int64
	release = func() { s.memory.give(held) }
	in := http.MaxBytesReader(w, r.Body, s.cfg.MaxEvidence)
	for {
		if len(body) == cap(body) {
			more := min(max(512, int64(cap(body))), s.cfg.MaxEvidence+1-int64(cap(body)))
			if !s.memory.take(more) {
				return nil, release, errOverloaded
			}
			held += more
			body = slices.Grow(body, int(more))
		}
		n, err := in.Read(body[len(body):cap(body)])
		body = body[:len(body)+n]
		if err == io.EOF {
			return body, release, nil
		}
		if err != nil {
			return nil, release, err
		}
	}
}

// admitEvidence takes an appraisal slot, waiting at most admitWait.
func (s *Server) admitEvidence(ctx context.Context) (release func(), err error) {
	t := time.NewTimer(admitWait)
	defer t.Stop()
	select {
	case s.admit <- struct{}{}:
		return func() { <-s.admit }, nil
	case <-t.C:
		return nil, errOverloaded
	case <-ctx.Done():
		return nil, errOverloaded
	}
}

// Operators wraps h (the dashboard, /metrics) in the API's operator
// check: an auditor's or admin's bearer token or client certificate.
func (s *Server) Operators(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.authorise(r, auditor); err != nil {
			writeError(w, s.log, r, err)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Route is the API's pattern that r matches, "" for none: a label for
// metrics that a client cannot multiply.
func (s *Server) Route(r *http.Request) string {
	_, p := s.mux.Handler(r)
	return p
}
