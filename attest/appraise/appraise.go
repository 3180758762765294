package appraise

import (
	"context"
	"crypto"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/bootlog"
	"tep.dev/tep/attest/flavor"
	"tep.dev/tep/attest/ima"
	"tep.dev/tep/attest/quote"
	"tep.dev/tep/attest/report"
	"tep.dev/tep/attest/runtime"
	"tep.dev/tep/attest/store"
	"tep.dev/tep/attest/verifier"
)

// Rule names of the checks outside flavors.
const (
	RuleQuote          = "quote"
	RuleIMAReplay      = "ima_replay"
	RuleBootLog        = "eventlog_replay"
	RuleRuntimeHistory = "ima_runtime_policy_earlier"
)

// Config sets an Appraiser up; Store and Key are required.
type Config struct {
	Store store.Store
	// Key signs reports and policies; its public key checks them.
	Key crypto.Signer
	// AllowSHA1Only accepts a quote whose only bank is SHA-1.
	AllowSHA1Only bool
	// IMALimits bound the IMA log's parse.
	IMALimits ima.Limits
	// PolicyTTL is how long the flavors read from the store are reused
	// before they are read again (default DefaultPolicyTTL; negative:
	// read them for every appraisal). A flavor row changed behind the
	// verifier's back shows as FlavorSignatureNotTrusted once re-read.
	PolicyTTL time.Duration
	Now       func() time.Time
}

// DefaultPolicyTTL is Config.PolicyTTL's default.
const DefaultPolicyTTL = 5 * time.Second

// Appraiser implements verifier.Appraiser and verifier.PolicyBook.
type Appraiser struct {
	cfg   Config
	pub   crypto.PublicKey
	cache *flavor.Cache
	aks   akCache

	mu      sync.Mutex // guards the two below
	flavors []*flavor.Checked
	readAt  time.Time
}

var (
	_ verifier.Appraiser  = (*Appraiser)(nil)
	_ verifier.PolicyBook = (*Appraiser)(nil)
)

// New returns an Appraiser; cfg is copied.
func New(cfg Config) *Appraiser {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PolicyTTL == 0 {
		cfg.PolicyTTL = DefaultPolicyTTL
	}
	pub := cfg.Key.Public()
	return &Appraiser{cfg: cfg, pub: pub, cache: flavor.NewCache(pub)}
}

// imaState is the IMA part of verifier.State.
type imaState struct {
	Replay *ima.State `json:"replay"`
	// Faults are the runtime-policy faults since the replay restarted.
	Faults []attest.Fault `json:"faults,omitempty"`
}

// rejecting are the quote faults that say the evidence is not the
// enrolled AK's answer to this nonce.
var rejecting = []string{
	attest.FaultAKNotActivated, attest.FaultQuoteSignature, attest.FaultQuoteNotGenerated,
	attest.FaultQuoteType, attest.FaultQuoteNonce, attest.FaultQuoteSigner,
}

// Appraise runs every check on in's evidence (see the package doc).
func (a *Appraiser) Appraise(ctx context.Context, in verifier.Appraisal) (verifier.Outcome, error) {
	ev := in.Evidence
	var prev *quote.State
	if len(in.State.Quote) > 0 {
		prev = new(quote.State)
		if err := json.Unmarshal(in.State.Quote, prev); err != nil {
			return verifier.Outcome{}, fmt.Errorf("stored quote state: %w", err)
		}
	}
	ak, err := a.aks.parse(in.Host.AKPublic)
	if err != nil {
		return verifier.Outcome{}, fmt.Errorf("%w: enrolled AK: %v", quote.ErrInput, err)
	}
	qr, err := quote.Verify(ev, quote.Input{
		AK: ak, ActivatedName: in.Host.AKName, Nonce: in.Nonce, Prev: prev,
		Policy: quote.Policy{Banks: in.Banks, PCRs: in.PCRs, AllowSHA1Only: a.cfg.AllowSHA1Only},
	})
	if err != nil {
		return verifier.Outcome{}, err
	}
	for _, f := range qr.Faults {
		if slices.Contains(rejecting, f.Name) {
			if f.Name == attest.FaultQuoteSignature {
				if nf := a.unactivated(ctx, in); nf != nil {
					f = *nf
				}
			}
			return verifier.Outcome{Reject: &f}, nil
		}
	}
	rules := []report.Rule{report.Check(RuleQuote, qr.Faults)}
	next := in.State
	if qr.OK() {
		b, _ := json.Marshal(qr.State)
		next.Quote = b
	}
	host := &flavor.Host{ID: in.Host.ID, Facts: ev.Facts}
	// The firmware version that counts is the one the TPM signed.
	host.Facts.TPMFirmware = qr.Firmware
	if qr.PCRs != nil {
		host.PCRs = banks(qr.PCRs)
		imaRules, st, err := a.replayIMA(in, qr, host)
		if err != nil {
			return verifier.Outcome{}, err
		}
		rules = append(rules, imaRules...)
		if len(ev.BootLog) > 0 {
			host.EventLog, host.EventLogFaults = bootlog.Verify(ev.BootLog, host.PCRs, bootlog.PCRs)
			rules = append(rules, report.Check(RuleBootLog, host.EventLogFaults))
		}
		flavorRules, err := a.evaluate(ctx, in.Host, host)
		if err != nil {
			return verifier.Outcome{}, err
		}
		rules = append(rules, flavorRules...)
		st.Faults = appendRuntimeFaults(st.Faults, flavorRules)
		b, _ := json.Marshal(st)
		next.IMA, next.IMAEntries = b, st.Replay.Entries
	}
	rep := report.New(in.Host.ID, a.cfg.Now(), rules)
	rep.IMAEntries = next.IMAEntries
	jws, err := report.Sign(rep, a.cfg.Key)
	if err != nil {
		return verifier.Outcome{}, err
	}
	body, err := json.Marshal(rep)
	if err != nil {
		return verifier.Outcome{}, err
	}
	return verifier.Outcome{Trusted: rep.Trusted, Faults: rep.Faults, Report: body, JWS: jws, State: next}, nil
}

// banks turns the quote's verified PCR values into evidence banks.
func banks(pcrs map[string]map[int][]byte) []attest.PCRBank {
	out := make([]attest.PCRBank, 0, len(pcrs))
	for name, vals := range pcrs {
		out = append(out, attest.PCRBank{Bank: name, Values: vals})
	}
	slices.SortFunc(out, func(x, y attest.PCRBank) int {
		if x.Bank < y.Bank {
			return -1
		}
		return 1
	})
	return out
}

// appendRuntimeFaults keeps the runtime-policy faults of this report's
// new entries with those seen earlier in the boot, up to
// runtime.MaxFaults.
func appendRuntimeFaults(seen []attest.Fault, rules []report.Rule) []attest.Fault {
	for _, r := range rules {
		if r.Name != flavor.RuleRuntimePolicy {
			continue
		}
		for _, f := range r.Faults {
			if len(seen) >= runtime.MaxFaults {
				return seen
			}
			seen = append(seen, f)
		}
	}
	return seen
}

// maxPending bounds the pending enrolments whose AK unactivated tries.
const maxPending = 4

// unactivated names the fault when a quote that the host's AK did not
// sign was signed by an AK the host enrolled and never activated: the
// AK was replaced without proving it lives beside the EK.
func (a *Appraiser) unactivated(ctx context.Context, in verifier.Appraisal) *attest.Fault {
	es, err := a.cfg.Store.PendingEnrollments(ctx, in.Host.ID, a.cfg.Now())
	if err != nil {
		return nil
	}
	for _, e := range es[:min(len(es), maxPending)] {
		r, err := quote.Verify(in.Evidence, quote.Input{AKPublic: e.AKPublic, ActivatedName: e.AKName, Nonce: in.Nonce,
			Policy: quote.Policy{Banks: in.Banks, PCRs: in.PCRs, AllowSHA1Only: a.cfg.AllowSHA1Only}})
		if err != nil || r.Attest == nil {
			continue
		}
		return &attest.Fault{
			Name:        attest.FaultAKNotActivated,
			Description: fmt.Sprintf("the quote is signed by the AK of enrolment %s, which was never activated", e.ID),
			Expected:    hex.EncodeToString(in.Host.AKName), Actual: hex.EncodeToString(e.AKName),
		}
	}
	return nil
}
