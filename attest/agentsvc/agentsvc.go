package agentsvc

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/api"
)

// Device is the agent's TPM side, as attest/agent's Agent provides it.
type Device interface {
	Enroll(hostID, token string) (attest.EnrollRequest, error)
	Activate(attest.Challenge) (attest.Activation, error)
	Quote(attest.QuoteRequest) (attest.Evidence, error)
}

// ConfigFile is the agent's configuration in its state directory.
const ConfigFile = "attest.json"

// Config is what enrolment leaves for serve and run: the verifier, its
// pinned certificate, and the host's name.
type Config struct {
	// Verifier is the verifier's base URL; VerifierCert its certificate
	// (PEM), the only one the agent trusts for it.
	Verifier     string `json:"verifier"`
	VerifierCert string `json:"verifier_cert"`
	HostID       string `json:"host_id"`
	// PullURL is where the verifier reaches this agent in pull mode;
	// empty in push mode.
	PullURL string `json:"pull_url,omitempty"`
	// NATS is the NATS server of an agent that the verifier reaches over
	// NATS (its PullURL is then natsquote.URL(HostID)).
	NATS string `json:"nats,omitempty"`
	// IMALog and BootLog are the logs' paths; empty: the kernel's.
	IMALog  string `json:"ima_log,omitempty"`
	BootLog string `json:"boot_log,omitempty"`
}

// LoadConfig reads dir's configuration.
func LoadConfig(dir string) (Config, error) {
	var c Config
	b, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		return c, fmt.Errorf("reading the agent's configuration (has it enrolled?): %w", err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("reading %s: %w", filepath.Join(dir, ConfigFile), err)
	}
	if c.Verifier == "" || c.VerifierCert == "" || c.HostID == "" {
		return c, fmt.Errorf("%s: verifier, verifier_cert and host_id are required", filepath.Join(dir, ConfigFile))
	}
	return c, nil
}

// Save writes c to dir, mode 0600, replacing the file atomically.
func (c Config) Save(dir string) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, ConfigFile)
	if err := os.WriteFile(path+".new", append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(path+".new", path)
}

// Client returns a client of the configured verifier.
func (c Config) Client() (*api.Client, error) {
	return api.NewClient(c.Verifier, []byte(c.VerifierCert), nil)
}

// Enroll enrols the device with the verifier and activates its AK:
// enrolment, then the credential challenge answered by the TPM. pullCert
// is the agent's pull-mode certificate (DER), empty in push mode.
func Enroll(ctx context.Context, d Device, c *api.Client, hostID, token, pullURL string, pullCert []byte) (api.ActivateReply, error) {
	req, err := d.Enroll(hostID, token)
	if err != nil {
		return api.ActivateReply{}, fmt.Errorf("enrolling on the TPM: %w", err)
	}
	ch, err := c.Enroll(ctx, api.EnrollBody{EnrollRequest: req, PullURL: pullURL, PullCert: pullCert})
	if err != nil {
		return api.ActivateReply{}, fmt.Errorf("enrolling with the verifier: %w", err)
	}
	act, err := d.Activate(ch)
	if err != nil {
		return api.ActivateReply{}, fmt.Errorf("activating the credential on the TPM: %w", err)
	}
	r, err := c.Activate(ctx, act)
	if err != nil {
		return api.ActivateReply{}, fmt.Errorf("activating with the verifier: %w", err)
	}
	return r, nil
}

// Push attests once in push mode: a challenge, a quote, the evidence.
func Push(ctx context.Context, d Device, c *api.Client, hostID string) (api.Report, error) {
	req, err := c.Challenge(ctx, hostID)
	if err != nil {
		return api.Report{}, fmt.Errorf("asking for a challenge: %w", err)
	}
	ev, err := d.Quote(req)
	if err != nil {
		return api.Report{}, fmt.Errorf("quoting: %w", err)
	}
	r, err := c.Evidence(ctx, ev)
	if err != nil {
		return api.Report{}, fmt.Errorf("sending evidence: %w", err)
	}
	return r, nil
}

// PushLoop pushes every interval until ctx ends; a failure is logged and
// retried at the next tick.
func PushLoop(ctx context.Context, d Device, c *api.Client, hostID string, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, interval)
		r, err := Push(pctx, d, c, hostID)
		cancel()
		if err != nil && !errors.Is(err, context.Canceled) {
			log.Warn("attestation failed", "err", err)
		} else if err == nil {
			log.Info("attested", "report", r.ID, "trusted", r.Trusted)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// PullTLS is the pull server's TLS configuration: the agent's
// certificate, and a client certificate required and verified against
// the pinned verifier certificate.
func PullTLS(cert tls.Certificate, verifierPEM []byte) (*tls.Config, error) {
	pool, err := api.PinnedPool(verifierPEM)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13,
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool,
	}, nil
}
