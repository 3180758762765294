package ops

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"
)

// checkTimeout bounds one readiness check.
const checkTimeout = 3 * time.Second

// Check is one condition of readiness: Fn returns nil when it holds.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// Health answers the liveness and readiness probes.
type Health struct {
	checks   []Check
	draining atomic.Bool
	log      *slog.Logger
}

// NewHealth returns probes that are ready while every check passes and
// the process is not shutting down.
func NewHealth(log *slog.Logger, checks ...Check) *Health {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Health{checks: checks, log: log}
}

// Drain marks the process as shutting down: /readyz answers 503 from
// now on, so that a load balancer sends no new work.
func (h *Health) Drain() { h.draining.Store(true) }

// Readiness is /readyz's body: "ok" or "failed" per check (the reasons
// go to the log: the probe answers anyone).
type Readiness struct {
	Ready    bool              `json:"ready"`
	Draining bool              `json:"draining,omitempty"`
	Checks   map[string]string `json:"checks"`
}

// Live answers /healthz: the process is up and serving HTTP.
func (h *Health) Live(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

// Ready answers /readyz: 200 when every check passes and the process is
// not draining, else 503.
func (h *Health) Ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), checkTimeout)
	defer cancel()
	rd := Readiness{Ready: !h.draining.Load(), Draining: h.draining.Load(), Checks: map[string]string{}}
	for _, c := range h.checks {
		if err := c.Fn(ctx); err != nil {
			h.log.Warn("not ready", "check", c.Name, "err", err)
			rd.Checks[c.Name], rd.Ready = "failed", false
			continue
		}
		rd.Checks[c.Name] = "ok"
	}
	code := http.StatusOK
	if !rd.Ready {
		code = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(rd)
}
