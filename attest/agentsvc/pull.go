package agentsvc

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/api"
)

// maxQuoteRequest bounds a quote request's body.
const maxQuoteRequest = 4 << 10

// PullHandler answers the verifier's quote requests (api.QuotePath) with
// the device's evidence, one at a time.
func PullHandler(d Device, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var busy sync.Mutex
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+api.QuotePath, func(w http.ResponseWriter, r *http.Request) {
		if !busy.TryLock() {
			reply(w, http.StatusServiceUnavailable, api.ErrorBody{Error: "a quote is in progress"})
			return
		}
		defer busy.Unlock()
		var req attest.QuoteRequest
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxQuoteRequest))
		if err == nil {
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.DisallowUnknownFields()
			err = dec.Decode(&req)
		}
		if err != nil {
			code := http.StatusBadRequest
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				code = http.StatusRequestEntityTooLarge
			}
			reply(w, code, api.ErrorBody{Error: "quote request: " + err.Error()})
			return
		}
		ev, err := d.Quote(req)
		if err != nil {
			log.Warn("quote failed", "err", err)
			reply(w, http.StatusBadRequest, api.ErrorBody{Error: "quote: " + err.Error()})
			return
		}
		log.Info("quoted", "pcrs", len(req.PCRs), "banks", len(req.Banks), "ima_from", req.IMAFrom)
		reply(w, http.StatusOK, ev)
	})
	return mux
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
