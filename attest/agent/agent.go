package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"tep.dev/tep/tpm"
)

// Default log locations of a Linux kernel with IMA and a TPM event log.
const (
	DefaultIMALog  = "/sys/kernel/security/ima/binary_runtime_measurements"
	DefaultBootLog = "/sys/kernel/security/tpm0/binary_bios_measurements"
)

// stateFile is the agent's state in Config.StateDir.
const stateFile = "agent.json"

// ErrNotEnrolled is returned by Activate and Quote before Enroll.
var ErrNotEnrolled = errors.New("agent is not enrolled")

// Config configures an Agent. Only StateDir is required.
type Config struct {
	// StateDir holds the agent's state: the AK's template and name and
	// which EK was enrolled. It is created if missing.
	StateDir string
	// IMALogPath and BootLogPath are the IMA measurement list and the
	// TCG boot event log, in their binary formats; empty means the
	// kernel's (DefaultIMALog, DefaultBootLog). A log that does not exist
	// is not sent.
	IMALogPath, BootLogPath string
	// EK selects the endorsement key by its certificate: "rsa" (RSA
	// 2048), "p256" or "p384"; empty takes the first of these the TPM
	// has a certificate for.
	EK string
	// AK is the attestation key's type: "ecc" (P-256, ECDSA with
	// SHA-256; the default, fast to recreate) or "rsa" (RSA 2048,
	// RSASSA with SHA-256).
	AK string
}

// Agent is the device side of attestation.
type Agent struct {
	t   *tpm.TPM
	cfg Config
	mu  sync.Mutex // guards st and the state file
	st  *state     // nil before Enroll
}

// state is what the agent keeps in StateDir between runs.
type state struct {
	HostID string `json:"host_id"`
	EK     string `json:"ek"`
	// AKTemplate is the TPMT_PUBLIC the AK is created from, AKName the
	// name of the key it gave at enrolment.
	AKTemplate []byte `json:"ak_template"`
	AKName     []byte `json:"ak_name"`
}

// New makes an agent for t. It reads the state a previous Enroll left in
// cfg.StateDir, if any.
func New(t *tpm.TPM, cfg Config) (*Agent, error) {
	if t == nil {
		return nil, errors.New("new agent: no TPM")
	}
	if cfg.StateDir == "" {
		return nil, errors.New("new agent: no state directory")
	}
	if cfg.IMALogPath == "" {
		cfg.IMALogPath = DefaultIMALog
	}
	if cfg.BootLogPath == "" {
		cfg.BootLogPath = DefaultBootLog
	}
	if _, err := ekKindOf(cfg.EK); cfg.EK != "" && err != nil {
		return nil, fmt.Errorf("new agent: %w", err)
	}
	if _, err := akTemplate(cfg.AK); err != nil {
		return nil, fmt.Errorf("new agent: %w", err)
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("new agent: %w", err)
	}
	a := &Agent{t: t, cfg: cfg}
	b, err := os.ReadFile(filepath.Join(cfg.StateDir, stateFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
		return a, nil
	case err != nil:
		return nil, fmt.Errorf("new agent: %w", err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("new agent: reading %s: %w", stateFile, err)
	}
	a.st = &st
	return a, nil
}

// save writes st to the state file, atomically. a.mu must be held.
func (a *Agent) save(st *state) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(a.cfg.StateDir, stateFile+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), filepath.Join(a.cfg.StateDir, stateFile)); err != nil {
		return err
	}
	a.st = st
	return nil
}

// state returns the enrolled state, or ErrNotEnrolled.
func (a *Agent) state() (state, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.st == nil {
		return state{}, ErrNotEnrolled
	}
	return *a.st, nil
}

// AKName returns the enrolled AK's name, or ErrNotEnrolled.
func (a *Agent) AKName() ([]byte, error) {
	st, err := a.state()
	return st.AKName, err
}
