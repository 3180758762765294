package api

import (
	"encoding/hex"
	"encoding/json"
	"time"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/store"
)

// EnrollBody is POST /v1/agent/enroll's body: the enrolment, and for a
// pull-mode agent the URL the verifier calls and the agent's TLS
// certificate (DER), which the verifier pins.
type EnrollBody struct {
	attest.EnrollRequest
	PullURL  string `json:"pull_url,omitempty"`
	PullCert []byte `json:"pull_cert,omitempty"`
}

// ActivateReply is POST /v1/agent/activate's reply.
type ActivateReply struct {
	HostID    string    `json:"host_id"`
	Activated time.Time `json:"activated"`
}

// ChallengeBody is POST /v1/agent/challenge's body.
type ChallengeBody struct {
	HostID string `json:"host_id"`
}

// Host is a host as the API shows it.
type Host struct {
	ID          string           `json:"id"`
	EKHash      string           `json:"ek_sha256"`
	AKName      string           `json:"ak_name,omitempty"`
	Facts       attest.HostFacts `json:"facts"`
	PullURL     string           `json:"pull_url,omitempty"`
	FlavorGroup string           `json:"flavor_group,omitempty"`
	LastReport  string           `json:"last_report,omitempty"`
	Created     time.Time        `json:"created"`
	Activated   time.Time        `json:"activated,omitzero"`
	// Contact is a pulled host's; Contact.Stale marks one the verifier
	// could not attest at its last attempt.
	Contact *Contact `json:"contact,omitempty"`
}

func hostView(h store.Host) Host {
	return Host{
		ID: h.ID, EKHash: h.EKHash, AKName: hex.EncodeToString(h.AKName), Facts: h.Facts, PullURL: h.PullURL,
		FlavorGroup: h.FlavorGroup, LastReport: h.LastReport, Created: h.Created, Activated: h.Activated,
	}
}

// Report is a stored trust report as the API shows it: the report's JSON
// and its JWS, which a relying party checks with the verifier's key.
type Report struct {
	ID      string          `json:"id"`
	HostID  string          `json:"host_id"`
	Created time.Time       `json:"created"`
	Trusted bool            `json:"trusted"`
	Report  json.RawMessage `json:"report,omitempty"`
	JWS     string          `json:"jws"`
}

func reportView(r store.Report) Report {
	var body json.RawMessage
	if json.Valid(r.Body) {
		body = r.Body
	}
	return Report{ID: r.ID, HostID: r.HostID, Created: r.Created, Trusted: r.Trusted, Report: body, JWS: r.JWS}
}

// Policy is a stored flavor, flavor group or template.
type Policy struct {
	Kind    string          `json:"kind"`
	ID      string          `json:"id"`
	Name    string          `json:"name"`
	Body    json.RawMessage `json:"body"`
	Created time.Time       `json:"created"`
}

func policyView(p store.Policy) Policy {
	return Policy{Kind: p.Kind, ID: p.ID, Name: p.Name, Body: p.Body, Created: p.Created}
}

// FlavorGroupBody is PUT /v1/hosts/{id}/flavor-group's body.
type FlavorGroupBody struct {
	FlavorGroup string `json:"flavor_group"`
}

// EKAllowBody is POST /v1/ek-allow's body: an EK's TPMT_PUBLIC.
type EKAllowBody struct {
	EKPublic []byte `json:"ek_public"`
}

// Health is GET /v1/health's reply.
type Health struct {
	Status string `json:"status"`
	Schema int    `json:"schema"`
}

// ImportBody is POST /v1/flavors/import's body: the golden host whose
// last verified evidence the flavors are made from.
type ImportBody struct {
	HostID string `json:"host_id"`
}

// Enrollment is an enrolment as the API shows it (never its secret's
// hash).
type Enrollment struct {
	ID      string           `json:"id"`
	HostID  string           `json:"host_id"`
	EKHash  string           `json:"ek_sha256"`
	AKName  string           `json:"ak_name"`
	Facts   attest.HostFacts `json:"facts"`
	PullURL string           `json:"pull_url,omitempty"`
	Status  string           `json:"status"`
	Created time.Time        `json:"created"`
	Expires time.Time        `json:"expires"`
}

func enrollmentView(e store.Enrollment) Enrollment {
	return Enrollment{
		ID: e.ID, HostID: e.HostID, EKHash: e.EKHash, AKName: hex.EncodeToString(e.AKName), Facts: e.Facts,
		PullURL: e.PullURL, Status: e.Status, Created: e.Created, Expires: e.Expires,
	}
}
