package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/throttle"
	"tep.dev/tep/attest/verifier"
)

// Operator authentication errors.
var (
	errUnauthenticated = errors.New("authentication required: a bearer token or a client certificate")
	errForbidden       = errors.New("this role may not do that")
)

// ErrorBody is the JSON of every error reply.
type ErrorBody struct {
	Error string        `json:"error"`
	Fault *attest.Fault `json:"fault,omitempty"`
}

// status maps an error to its HTTP status: the one place where the
// verifier's errors become statuses.
func status(err error) int {
	var mbe *http.MaxBytesError
	var fe *verifier.FaultError
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge
	case errors.As(err, &fe):
		return http.StatusUnprocessableEntity
	case errors.As(err, &se), errors.As(err, &te), errors.Is(err, errBadJSON), errors.Is(err, verifier.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, errUnauthenticated):
		return http.StatusUnauthorized
	case errors.Is(err, errForbidden), errors.Is(err, verifier.ErrUnauthorized):
		return http.StatusForbidden
	case errors.Is(err, verifier.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, verifier.ErrConflict), errors.Is(err, verifier.ErrNotActivated):
		return http.StatusConflict
	case errors.Is(err, verifier.ErrExpired):
		return http.StatusGone
	case errors.Is(err, errOverloaded):
		return http.StatusServiceUnavailable
	case errors.As(err, new(*limitError)):
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}

// writeError replies with err's status and message; a 5xx's details go
// to the log only.
func writeError(w http.ResponseWriter, log *slog.Logger, r *http.Request, err error) {
	code := status(err)
	body := ErrorBody{Error: err.Error()}
	var fe *verifier.FaultError
	if errors.As(err, &fe) {
		body.Fault = &fe.Fault
	}
	var le *limitError
	if errors.As(err, &le) {
		// One line per request turned away would flood the log too.
		w.Header().Set("Retry-After", throttle.RetryAfter(le.retry))
		log.Debug("request refused", "method", r.Method, "path", r.URL.Path, "status", code, "err", err)
	} else if code >= 500 {
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		body.Error = http.StatusText(code)
	} else {
		log.Info("request refused", "method", r.Method, "path", r.URL.Path, "status", code, "err", err)
	}
	writeJSON(w, code, body)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
