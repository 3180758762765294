package bench

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/agentsvc"
	"tep.dev/tep/attest/api"
	"tep.dev/tep/attest/flavor"
	"tep.dev/tep/attest/loadgen"
	"tep.dev/tep/attest/simdevice"
)

// goldenHost is the simulated device the fleet's flavors are imported
// from, as an operator imports them from a golden host of a fleet.
const goldenHost = "golden-00000"

// fleetTemplate is the flavor template the bench stores: the example
// edge template's parts (dist/flavor-template-edge.json: PCRs 0-7 and
// 8-9 in both banks must match) and an IMA part whose runtime policy is
// every file in the golden host's log.
func fleetTemplate() flavor.Template {
	rules := func(from, to int) []flavor.RuleTemplate {
		var rs []flavor.RuleTemplate
		for i := from; i <= to; i++ {
			rs = append(rs, flavor.RuleTemplate{PCR: i, Banks: []string{"sha256", "sha384"}, PCRMatches: true})
		}
		return rs
	}
	return flavor.Template{
		ID:    "bench-edge",
		Label: "fleet bench: simulated edge boxes, boot chain, OS and runtime policy",
		Parts: map[flavor.Part]flavor.PartTemplate{
			flavor.Platform: {Rules: rules(0, 7)},
			flavor.OS:       {Rules: rules(8, 9)},
			flavor.IMA:      {RuntimePolicy: true},
		},
	}
}

// goldenEntries is how long the golden host's IMA log must be for its
// runtime policy to cover every file a step's devices run: their first
// report's IMAEntries, then IMAStep more for each of the pushes in the
// warm-up and the step (and two to spare: a step's end can cut in after
// one more).
func goldenEntries(cfg FleetConfig) int {
	interval := time.Minute / time.Duration(cfg.Scale)
	pushes := int((cfg.Warmup+cfg.Duration)/interval) + 2
	return cfg.IMAEntries + max(cfg.IMAStep, 0)*pushes
}

// goldenAgent is a simulated device as the pull-mode agent's TPM side.
type goldenAgent struct{ d *simdevice.Device }

func (a goldenAgent) Enroll(_, token string) (attest.EnrollRequest, error) {
	return a.d.Enroll(token), nil
}

func (a goldenAgent) Activate(c attest.Challenge) (attest.Activation, error) {
	return a.d.Activate(c)
}

func (a goldenAgent) Quote(req attest.QuoteRequest) (attest.Evidence, error) {
	return a.d.Evidence(req)
}

// storeFlavors stores what a real fleet's verifier holds before its
// devices attest, the way an operator does: a golden host (a simulated
// device with the fleet's boot PCRs and an IMA log of entries entries
// from the devices' generator) enrols in pull mode, `tep-verifier
// templates add` stores fleetTemplate, and `tep-verifier flavors import
// --from-host` makes the PLATFORM, OS and IMA flavors from its evidence.
// Then every replica attests the golden host, and each report must be
// trusted: otherwise the devices' would not be either.
func (v *fleetVerifier) storeFlavors(dir, build string, entries int) error {
	gen, err := loadgen.NewIMALog()
	if err != nil {
		return err
	}
	f, err := simdevice.New(simdevice.Config{Devices: 1, HostPrefix: "golden-", CA: v.ca, IMA: gen, IMAEntries: entries})
	if err != nil {
		return fmt.Errorf("golden host: %w", err)
	}
	agent := goldenAgent{f.Devices[0]}
	// The golden host keeps serving until the set-up stops, so that it
	// can be attested again (checkGolden).
	url, der, stop, err := servePull(agent, v.cert)
	if err != nil {
		return fmt.Errorf("golden host: %w", err)
	}
	v.stopGolden = stop
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin, err := v.client(v.urls[0])
	if err != nil {
		return err
	}
	if err := admin.Do(ctx, http.MethodPost, "/v1/ek-allow", api.EKAllowBody{EKPublic: agent.d.Enroll("").EKPublic}, nil); err != nil {
		return fmt.Errorf("allowing the golden host's EK: %w", err)
	}
	if _, err := agentsvc.Enroll(ctx, agent, admin, goldenHost, "", url, der); err != nil {
		return fmt.Errorf("enrolling the golden host: %w", err)
	}
	tmpl, err := json.MarshalIndent(fleetTemplate(), "", "  ")
	if err != nil {
		return err
	}
	tmplFile, caFile := filepath.Join(dir, "flavor-template.json"), filepath.Join(dir, "verifier-cert.pem")
	if err := os.WriteFile(tmplFile, tmpl, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(caFile, v.cert, 0o600); err != nil {
		return err
	}
	bin := filepath.Join(build, "tep-verifier")
	for _, args := range [][]string{{"templates", "add", tmplFile}, {"flavors", "import", "--from-host", goldenHost}} {
		if err := v.operator(ctx, bin, caFile, args[0], args[1], args[2:]...); err != nil {
			return err
		}
	}
	return v.checkGolden(ctx)
}

// operator runs a tep-verifier operator command (kind verb, with rest
// after the connection flags) against the first replica with the admin
// token.
func (v *fleetVerifier) operator(ctx context.Context, bin, caFile, kind, verb string, rest ...string) error {
	args := append([]string{kind, verb, "--verifier", v.urls[0], "--ca", caFile, "--json"}, rest...)
	cmd := exec.CommandContext(ctx, bin, args...)
	// The token goes by the environment, out of the process list.
	cmd.Env = append(os.Environ(), "TEP_VERIFIER_TOKEN="+v.admin)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("tep-verifier %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// checkGolden has every replica attest the golden host now and wants a
// trusted report from each. A replica that appraised before the import
// (a set-up whose serve pulls on a schedule pulls the golden host at
// once) holds the flavors it read then for a few seconds
// (appraise.Config.PolicyTTL): an untrusted report is asked again for
// up to goldenWait.
func (v *fleetVerifier) checkGolden(ctx context.Context) error {
	for _, u := range v.urls {
		c, err := v.client(u)
		if err != nil {
			return err
		}
		for end := time.Now().Add(goldenWait); ; time.Sleep(500 * time.Millisecond) {
			var r api.Report
			if err := c.Do(ctx, http.MethodPost, "/v1/hosts/"+goldenHost+"/attest", nil, &r); err != nil {
				return fmt.Errorf("attesting the golden host at %s: %w", u, err)
			}
			if r.Trusted {
				break
			}
			if time.Now().After(end) {
				return fmt.Errorf("the golden host's report from %s is untrusted with its own flavors: %s", u, faultNames(r.Report))
			}
		}
	}
	return nil
}

// goldenWait is how long checkGolden waits for a replica to read the
// flavors: twice the verifier's PolicyTTL.
const goldenWait = 10 * time.Second

// client returns an admin's client of replica url.
func (v *fleetVerifier) client(url string) (*api.Client, error) {
	c, err := api.NewClient(url, v.cert, nil)
	if err != nil {
		return nil, err
	}
	c.Token = v.admin
	return c, nil
}

// faultNames lists a report body's fault names, for an error.
func faultNames(body json.RawMessage) string {
	var b struct{ Faults []attest.Fault }
	if json.Unmarshal(body, &b) != nil || len(b.Faults) == 0 {
		return "no faults given"
	}
	names := make([]string, 0, len(b.Faults))
	for i, f := range b.Faults {
		if i == 5 {
			names = append(names, fmt.Sprintf("and %d more", len(b.Faults)-i))
			break
		}
		names = append(names, f.Name+" ("+f.Description+")")
	}
	return strings.Join(names, ", ")
}

// untrustedSample describes one of the newest untrusted reports, for
// the error of a step whose reports were not all trusted.
func (v *fleetVerifier) untrustedSample() string {
	c, err := v.client(v.urls[0])
	if err != nil {
		return err.Error()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var rs []api.Report
	if err := c.Do(ctx, http.MethodGet, "/v1/reports?limit=1000", nil, &rs); err != nil {
		return "reading reports: " + err.Error()
	}
	for _, r := range rs {
		if !r.Trusted {
			return fmt.Sprintf("%s's report %s: %s", r.HostID, r.ID, faultNames(r.Report))
		}
	}
	return "no untrusted report among the newest 1,000"
}

// servePull serves a pull-mode agent on loopback, pinning the
// verifier's certificate; it returns the URL, the agent's certificate
// (DER) to enrol with, and a function that stops the server.
func servePull(d agentsvc.Device, verifierPEM []byte) (string, []byte, func(), error) {
	certPEM, keyPEM, err := api.SelfSigned("tep-attest", []string{"127.0.0.1"}, time.Now())
	if err != nil {
		return "", nil, nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return "", nil, nil, err
	}
	cfg, err := agentsvc.PullTLS(cert, verifierPEM)
	if err != nil {
		return "", nil, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, nil, err
	}
	srv := &http.Server{Handler: agentsvc.PullHandler(d, nil), TLSConfig: cfg, ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: log.New(io.Discard, "", 0)}
	go srv.ServeTLS(ln, "", "")
	blk, _ := pem.Decode(certPEM)
	if blk == nil {
		srv.Close()
		return "", nil, nil, errors.New("the agent's certificate is not PEM")
	}
	return "https://" + ln.Addr().String(), blk.Bytes, func() { srv.Close() }, nil
}
