package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"tep.dev/tep/attest/api"
	"tep.dev/tep/attest/natsquote"
	"tep.dev/tep/internal/cli"
)

// opFlags are the operator commands' connection flags.
type opFlags struct {
	url, ca, token string
	json           bool
}

func (o *opFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&o.url, "verifier", os.Getenv("TEP_VERIFIER_URL"), "the verifier's URL (TEP_VERIFIER_URL)")
	fs.StringVar(&o.ca, "ca", os.Getenv("TEP_VERIFIER_CA"), "the verifier's certificate, PEM (TEP_VERIFIER_CA)")
	fs.StringVar(&o.token, "token", os.Getenv("TEP_VERIFIER_TOKEN"), "an operator's bearer token (TEP_VERIFIER_TOKEN)")
	fs.BoolVar(&o.json, "json", false, "print JSON")
}

func (o *opFlags) client() (*api.Client, error) {
	if o.url == "" || o.ca == "" {
		return nil, cli.Usagef("--verifier and --ca are required")
	}
	pem, err := os.ReadFile(o.ca)
	if err != nil {
		return nil, err
	}
	c, err := api.NewClient(o.url, pem, nil)
	if err != nil {
		return nil, err
	}
	c.Token = o.token
	return c, nil
}

func runHosts(ctx context.Context, args []string, std cli.IO) error {
	stdout, stderr := std.Out, std.Err
	var o opFlags
	fs := flag.NewFlagSet("hosts", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.register(fs)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	c, err := o.client()
	if err != nil {
		return err
	}
	var hs []api.Host
	if err := c.Do(ctx, http.MethodGet, "/v1/hosts", nil, &hs); err != nil {
		return err
	}
	if o.json {
		return printJSON(stdout, hs)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tEK (SHA-256)\tMODE\tFLAVOR GROUP\tACTIVATED\tLAST REPORT")
	for _, h := range hs {
		mode := "push"
		switch {
		case natsquote.IsURL(h.PullURL):
			mode = "nats"
		case h.PullURL != "":
			mode = "pull"
		}
		if h.Contact != nil && h.Contact.Stale {
			mode += ", stale"
		}
		fmt.Fprintf(tw, "%s\t%.16s\t%s\t%s\t%s\t%s\n", h.ID, h.EKHash, mode, h.FlavorGroup, when(h.Activated), h.LastReport)
	}
	return tw.Flush()
}

func runReports(ctx context.Context, args []string, std cli.IO) error {
	stdout, stderr := std.Out, std.Err
	var o opFlags
	fs := flag.NewFlagSet("reports", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.register(fs)
	host := fs.String("host", "", "only this host's reports")
	latest := fs.Bool("latest", false, "each host's latest report (with --host, that host's)")
	since := fs.String("since", "", "reports from this RFC 3339 time")
	until := fs.String("until", "", "reports before this RFC 3339 time")
	limit := fs.Int("limit", 50, "at most this many")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	c, err := o.client()
	if err != nil {
		return err
	}
	path := "/v1/reports/latest"
	if !*latest {
		q := url.Values{}
		for k, v := range map[string]string{"host": *host, "since": *since, "until": *until, "limit": fmt.Sprint(*limit)} {
			if v != "" {
				q.Set(k, v)
			}
		}
		path = "/v1/reports?" + q.Encode()
	}
	var rs []api.Report
	if err := c.Do(ctx, http.MethodGet, path, nil, &rs); err != nil {
		return err
	}
	if *latest && *host != "" {
		rs = slices.DeleteFunc(rs, func(r api.Report) bool { return r.HostID != *host })
	}
	if o.json {
		return printJSON(stdout, rs)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REPORT\tHOST\tCREATED\tTRUSTED\tFAULTS")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\n", r.ID, r.HostID, when(r.Created), r.Trusted, faultNames(r.Report))
	}
	return tw.Flush()
}

// faultNames lists a report's fault names, from its JSON.
func faultNames(body json.RawMessage) string {
	var r struct {
		Faults []struct {
			Name string `json:"name"`
		} `json:"faults"`
	}
	json.Unmarshal(body, &r)
	s := ""
	for i, f := range r.Faults {
		if i > 0 {
			s += ","
		}
		s += f.Name
	}
	return s
}

// A policyKind is one of the signed policies the verifier keeps:
// flavors, flavor templates, flavor groups.
type policyKind struct {
	name, path string
	importable bool // flavors can be imported from a golden host
}

var (
	flavorsKind   = policyKind{"flavors", "/v1/flavors", true}
	templatesKind = policyKind{"templates", "/v1/flavor-templates", false}
	groupsKind    = policyKind{"groups", "/v1/flavor-groups", false}
)

// runPolicies lists, adds or (flavors only) imports policies of kind k.
func runPolicies(ctx context.Context, k policyKind, args []string, stdout, stderr io.Writer) error {
	verbs := "list or add FILE"
	if k.importable {
		verbs = "list, add FILE or import --from-host ID"
	}
	if len(args) == 0 {
		return cli.Usagef("%s: %s", k.name, verbs)
	}
	var o opFlags
	fs := flag.NewFlagSet(k.name+" "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.register(fs)
	var from *string
	if k.importable {
		from = fs.String("from-host", "", "import: the golden host whose last verified evidence makes the flavors")
	}
	if err := cli.Parse(fs, args[1:]); err != nil {
		return err
	}
	c, err := o.client()
	if err != nil {
		return err
	}
	var out []api.Policy
	switch args[0] {
	case "list":
		err = c.Do(ctx, http.MethodGet, k.path, nil, &out)
	case "add":
		if fs.NArg() != 1 {
			return cli.Usagef("%s add: one FILE", k.name)
		}
		b, rerr := os.ReadFile(fs.Arg(0))
		if rerr != nil {
			return rerr
		}
		var p api.Policy
		err = c.Do(ctx, http.MethodPost, k.path, b, &p)
		out = []api.Policy{p}
	case "import":
		if !k.importable {
			return cli.Usagef("%s: %s", k.name, verbs)
		}
		if *from == "" {
			return cli.Usagef("flavors import: --from-host is required")
		}
		err = c.Do(ctx, http.MethodPost, "/v1/flavors/import", api.ImportBody{HostID: *from}, &out)
	default:
		return cli.Usagef("%s %q: %s", k.name, args[0], verbs)
	}
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(stdout, out)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tCREATED")
	for _, p := range out {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", p.ID, p.Name, when(p.Created))
	}
	return tw.Flush()
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.RFC3339)
}
