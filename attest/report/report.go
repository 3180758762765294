// Package report makes the verifier's trust reports: for one host at one
// time, whether it is trusted, the result of each rule with its faults
// (expected and actual values), and the faults of checks outside the
// flavor rules (quote, IMA replay, runtime policy). A report is signed by
// the verifier as a JWS (typ "tep-trust-report+json"), so that a relying
// party can check one offline with only the verifier's public key.
//
// Reports are plain values; Sign and Verify are safe for concurrent use.
package report

import (
	"crypto"
	"encoding/json"
	"fmt"
	"time"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/internal/jws"
)

// Type is the JWS "typ" header of a signed report.
const Type = "tep-trust-report+json"

// ErrSignature is wrapped when a signed report does not verify.
var ErrSignature = jws.ErrSignature

// Rule is one rule's result: a flavor rule (pcr_matches,
// eventlog_equals, eventlog_includes, eventlog_integrity, ...) or a
// verifier check (quote, ima_replay, runtime_policy).
type Rule struct {
	Name string `json:"rule"`
	// Part and FlavorID name the flavor the rule came from, if any.
	Part     string `json:"flavor_part,omitempty"`
	FlavorID string `json:"flavor_id,omitempty"`
	// PCR and Bank locate a PCR rule.
	PCR     *int           `json:"pcr,omitempty"`
	Bank    string         `json:"bank,omitempty"`
	Trusted bool           `json:"trusted"`
	Faults  []attest.Fault `json:"faults,omitempty"`
}

// Check is the rule of a verifier check (not a flavor rule) that found
// faults: trusted when there are none.
func Check(name string, faults []attest.Fault) Rule {
	return Rule{Name: name, Trusted: len(faults) == 0, Faults: faults}
}

// Report is a trust report.
type Report struct {
	HostID  string    `json:"host_id"`
	Time    time.Time `json:"time"`
	Trusted bool      `json:"trusted"`
	Rules   []Rule    `json:"rules"`
	// Faults gathers every rule's faults and those of checks outside
	// the rules, so a reader finds them in one place.
	Faults []attest.Fault `json:"faults,omitempty"`
	// IMAEntries is how many IMA log entries the verifier has accepted
	// for this boot, including this report's.
	IMAEntries int `json:"ima_entries,omitempty"`
}

// New returns the report for hostID at time at from the rules' results.
// It is trusted when every rule is trusted and no rule has a fault:
// an empty list of rules is not trusted, as nothing was checked.
func New(hostID string, at time.Time, rules []Rule) Report {
	r := Report{HostID: hostID, Time: at.UTC(), Rules: rules, Trusted: len(rules) > 0}
	for _, ru := range rules {
		r.Faults = append(r.Faults, ru.Faults...)
		if !ru.Trusted || len(ru.Faults) > 0 {
			r.Trusted = false
		}
	}
	return r
}

// Sign returns r as a compact JWS signed by key.
func Sign(r Report, key crypto.Signer) (string, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("encoding report: %w", err)
	}
	return jws.Sign(b, Type, key)
}

// Verify checks a signed report against the verifier's public key and
// returns the report.
func Verify(signed string, pub crypto.PublicKey) (Report, error) {
	b, err := jws.Verify(signed, Type, pub)
	if err != nil {
		return Report{}, fmt.Errorf("verifying trust report: %w", err)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return Report{}, fmt.Errorf("verifying trust report: %w: payload: %v", ErrSignature, err)
	}
	return r, nil
}
