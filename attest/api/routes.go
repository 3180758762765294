package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/report"
	"tep.dev/tep/attest/store"
	"tep.dev/tep/attest/verifier"
)

// policyKinds maps the API's path segments to the store's kinds.
var policyKinds = map[string]string{
	"flavors":          store.KindFlavor,
	"flavor-groups":    store.KindFlavorGroup,
	"flavor-templates": store.KindTemplate,
}

func (s *Server) routes() {
	s.handle("GET /v1/health", anyone, s.health)

	s.handle("POST /v1/agent/enroll", anyone, s.limited(s.enroll))
	s.handle("POST /v1/agent/activate", anyone, s.limited(s.activate))
	s.handle("POST /v1/agent/challenge", anyone, s.challenge)
	s.handle("POST /v1/agent/evidence", anyone, s.evidence)

	s.handle("GET /v1/hosts", auditor, s.hosts)
	s.handle("GET /v1/hosts/{id}", auditor, s.host)
	s.handle("DELETE /v1/hosts/{id}", admin, s.deleteHost)
	s.handle("PUT /v1/hosts/{id}/flavor-group", admin, s.setFlavorGroup)
	s.handle("POST /v1/hosts/{id}/attest", admin, s.pull)
	s.handle("GET /v1/enrollments/{id}", auditor, s.enrollment)
	s.handle("POST /v1/ek-allow", admin, s.allowEK)

	for seg, kind := range policyKinds {
		s.handle("GET /v1/"+seg, auditor, s.policies(kind))
		s.handle("GET /v1/"+seg+"/{id}", auditor, s.policy(kind))
		s.handle("POST /v1/"+seg, admin, s.putPolicy(kind))
		s.handle("DELETE /v1/"+seg+"/{id}", admin, s.deletePolicy(kind))
	}

	s.handle("POST /v1/flavors/import", admin, s.importFlavors)

	s.handle("GET /v1/reports", auditor, s.reports)
	s.handle("GET /v1/reports/latest", auditor, s.latest)
	s.handle("GET /v1/reports/{id}", auditor, s.report)
}

func (s *Server) health(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	v, err := s.v.Store().Version(r.Context())
	if err != nil {
		return 0, nil, fmt.Errorf("store: %w", err)
	}
	return http.StatusOK, Health{Status: "ok", Schema: v}, nil
}

func (s *Server) enroll(w http.ResponseWriter, r *http.Request) (int, any, error) {
	var b EnrollBody
	if err := decode(w, r, s.cfg.MaxBody, &b); err != nil {
		return 0, nil, err
	}
	pull := verifier.Pull{URL: b.PullURL, Cert: b.PullCert}
	if err := s.v.CheckEnroll(r.Context(), b.EnrollRequest, pull); err != nil {
		return 0, nil, err
	}
	if err := s.admitEnroll(); err != nil {
		return 0, nil, err
	}
	c, err := s.v.Enroll(r.Context(), b.EnrollRequest, pull)
	return http.StatusCreated, c, err
}

func (s *Server) activate(w http.ResponseWriter, r *http.Request) (int, any, error) {
	var a attest.Activation
	if err := decode(w, r, s.cfg.MaxBody, &a); err != nil {
		return 0, nil, err
	}
	h, err := s.v.Activate(r.Context(), a)
	return http.StatusOK, ActivateReply{HostID: h.ID, Activated: h.Activated}, err
}

func (s *Server) challenge(w http.ResponseWriter, r *http.Request) (int, any, error) {
	var b ChallengeBody
	if err := decode(w, r, s.cfg.MaxBody, &b); err != nil {
		return 0, nil, err
	}
	q, err := s.v.Challenge(r.Context(), b.HostID)
	return http.StatusOK, q, err
}

func (s *Server) evidence(w http.ResponseWriter, r *http.Request) (int, any, error) {
	body, giveBack, err := s.readEvidence(w, r)
	defer giveBack()
	if err != nil {
		return 0, nil, err
	}
	release, err := s.admitEvidence(r.Context())
	if err != nil {
		return 0, nil, err
	}
	defer release()
	var ev attest.Evidence
	if err := decodeJSON(body, &ev); err != nil {
		return 0, nil, err
	}
	rep, err := s.v.Attest(r.Context(), ev)
	return http.StatusCreated, s.reportView(rep), err
}

func (s *Server) hosts(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	hs, err := s.v.Store().Hosts(r.Context())
	out := make([]Host, 0, len(hs))
	for _, h := range hs {
		out = append(out, s.withContact(r.Context(), h))
	}
	return http.StatusOK, out, err
}

func (s *Server) host(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	h, err := s.v.Store().Host(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, notFound(err, "host")
	}
	return http.StatusOK, s.withContact(r.Context(), h), nil
}

func (s *Server) deleteHost(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	return http.StatusNoContent, nil, notFound(s.v.Store().DeleteHost(r.Context(), r.PathValue("id")), "host")
}

func (s *Server) setFlavorGroup(w http.ResponseWriter, r *http.Request) (int, any, error) {
	var b FlavorGroupBody
	if err := decode(w, r, s.cfg.MaxBody, &b); err != nil {
		return 0, nil, err
	}
	if b.FlavorGroup != "" {
		if _, err := s.v.Policy(r.Context(), store.KindFlavorGroup, b.FlavorGroup); err != nil {
			return 0, nil, err
		}
	}
	return http.StatusNoContent, nil, notFound(s.v.Store().SetFlavorGroup(r.Context(), r.PathValue("id"), b.FlavorGroup), "host")
}

func (s *Server) pull(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	rep, err := s.v.Pull(r.Context(), r.PathValue("id"))
	return http.StatusCreated, s.reportView(rep), err
}

func (s *Server) enrollment(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	e, err := s.v.Store().Enrollment(r.Context(), r.PathValue("id"))
	return http.StatusOK, enrollmentView(e), notFound(err, "enrolment")
}

func (s *Server) allowEK(w http.ResponseWriter, r *http.Request) (int, any, error) {
	var b EKAllowBody
	if err := decode(w, r, s.cfg.MaxBody, &b); err != nil {
		return 0, nil, err
	}
	if len(b.EKPublic) == 0 {
		return 0, nil, fmt.Errorf("%w: no ek_public", verifier.ErrInvalid)
	}
	h, err := verifier.EKHash(b.EKPublic)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]string{"ek_sha256": h}, s.v.Store().AllowEK(r.Context(), h)
}

func (s *Server) policies(kind string) handler {
	return func(_ http.ResponseWriter, r *http.Request) (int, any, error) {
		ps, err := s.v.Policies(r.Context(), kind)
		out := make([]Policy, 0, len(ps))
		for _, p := range ps {
			out = append(out, policyView(p))
		}
		return http.StatusOK, out, err
	}
}

func (s *Server) policy(kind string) handler {
	return func(_ http.ResponseWriter, r *http.Request) (int, any, error) {
		p, err := s.v.Policy(r.Context(), kind, r.PathValue("id"))
		return http.StatusOK, policyView(p), err
	}
}

func (s *Server) putPolicy(kind string) handler {
	return func(w http.ResponseWriter, r *http.Request) (int, any, error) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxPolicy))
		if err != nil {
			return 0, nil, err
		}
		if !json.Valid(body) {
			return 0, nil, fmt.Errorf("%w: the %s is not JSON", errBadJSON, kind)
		}
		p, err := s.v.PutPolicy(r.Context(), kind, body)
		return http.StatusCreated, policyView(p), err
	}
}

func (s *Server) deletePolicy(kind string) handler {
	return func(_ http.ResponseWriter, r *http.Request) (int, any, error) {
		return http.StatusNoContent, nil, s.v.DeletePolicy(r.Context(), kind, r.PathValue("id"))
	}
}

func (s *Server) reports(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	q := store.ReportQuery{HostID: r.URL.Query().Get("host")}
	var err error
	if q.Since, err = queryTime(r, "since"); err != nil {
		return 0, nil, err
	}
	if q.Until, err = queryTime(r, "until"); err != nil {
		return 0, nil, err
	}
	if l := r.URL.Query().Get("limit"); l != "" {
		if q.Limit, err = strconv.Atoi(l); err != nil || q.Limit < 0 {
			return 0, nil, fmt.Errorf("%w: limit %q", verifier.ErrInvalid, l)
		}
	}
	rs, err := s.v.Store().Reports(r.Context(), q)
	return http.StatusOK, s.reportViews(rs), err
}

func (s *Server) latest(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	rs, err := s.v.Store().Latest(r.Context())
	return http.StatusOK, s.reportViews(rs), err
}

func (s *Server) report(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	rep, err := s.v.Store().Report(r.Context(), r.PathValue("id"))
	return http.StatusOK, s.reportView(rep), notFound(err, "report")
}

func (s *Server) reportViews(rs []store.Report) []Report {
	out := make([]Report, 0, len(rs))
	for _, r := range rs {
		out = append(out, s.reportView(r))
	}
	return out
}

// reportView shows a stored report as its JWS says, when the server
// has the report key (Config.ReportKey).
func (s *Server) reportView(r store.Report) Report {
	if s.cfg.ReportKey == nil || r.ID == "" {
		return reportView(r)
	}
	rep, err := report.Verify(r.JWS, s.cfg.ReportKey)
	if err != nil {
		s.log.Error("stored report tampered with", "report", r.ID, "host", r.HostID, "err", err)
		return Report{ID: r.ID, HostID: r.HostID, Created: r.Created, JWS: r.JWS}
	}
	body, err := json.Marshal(rep)
	if err != nil {
		return Report{ID: r.ID, HostID: r.HostID, Created: r.Created, JWS: r.JWS}
	}
	if rep.HostID != r.HostID || rep.Trusted != r.Trusted || !bytes.Equal(body, r.Body) {
		s.log.Error("stored report differs from its JWS", "report", r.ID, "host", r.HostID)
	}
	return Report{ID: r.ID, HostID: rep.HostID, Created: rep.Time, Trusted: rep.Trusted, Report: body, JWS: r.JWS}
}

// queryTime reads an RFC 3339 time from the query string.
func queryTime(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return t, fmt.Errorf("%w: %s %q is not an RFC 3339 time", verifier.ErrInvalid, name, v)
	}
	return t, nil
}

// notFound turns the store's ErrNotFound into the verifier's.
func notFound(err error, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %s", verifier.ErrNotFound, what)
	}
	return err
}

func (s *Server) importFlavors(w http.ResponseWriter, r *http.Request) (int, any, error) {
	var b ImportBody
	if err := decode(w, r, s.cfg.MaxBody, &b); err != nil {
		return 0, nil, err
	}
	ps, err := s.v.ImportFlavors(r.Context(), b.HostID)
	out := make([]Policy, 0, len(ps))
	for _, p := range ps {
		out = append(out, policyView(p))
	}
	return http.StatusCreated, out, err
}
