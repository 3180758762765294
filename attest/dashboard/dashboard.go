package dashboard

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"tep.dev/tep/attest/report"
	"tep.dev/tep/attest/store"
)

// Prefix is where the dashboard is mounted.
const Prefix = "/dashboard/"

// Defaults of Config's zero values.
const (
	DefaultInterval   = time.Minute
	DefaultStaleAfter = 3
	DefaultHistory    = 50
)

//go:embed web
var web embed.FS

// csp allows the dashboard's own style sheet and nothing else: no
// script, no frames, no forms, no other origin.
const csp = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Config sets a Dashboard up; Store is required.
type Config struct {
	Store store.Store
	// Interval is how often hosts are expected to attest; StaleAfter
	// the number of intervals without a stored report after which a
	// host is stale.
	Interval   time.Duration
	StaleAfter int
	// History is how many reports a host's chart shows.
	History int
	Log     *slog.Logger
	Now     func() time.Time
}

// Dashboard serves the pages.
type Dashboard struct {
	cfg   Config
	pages *template.Template
	css   []byte
	mux   *http.ServeMux
}

// New returns a Dashboard; cfg is copied.
func New(cfg Config) (*Dashboard, error) {
	if cfg.Store == nil {
		return nil, errors.New("dashboard: no store")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = DefaultStaleAfter
	}
	if cfg.History <= 0 {
		cfg.History = DefaultHistory
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	pages, err := template.New("").Funcs(template.FuncMap{
		"when": when, "hostURL": hostURL, "class": stateClass, "pcr": pcr,
	}).ParseFS(web, "web/*.tmpl")
	if err != nil {
		return nil, fmt.Errorf("dashboard: templates: %w", err)
	}
	css, err := web.ReadFile("web/style.css")
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	d := &Dashboard{cfg: cfg, pages: pages, css: css, mux: http.NewServeMux()}
	d.mux.HandleFunc("GET "+Prefix+"{$}", d.index)
	d.mux.HandleFunc("GET "+Prefix+"hosts/{id}", d.host)
	d.mux.HandleFunc("GET "+Prefix+"style.css", d.style)
	return d, nil
}

// ServeHTTP serves the dashboard's pages under Prefix.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	d.mux.ServeHTTP(w, r)
}

// Route is the pattern r matches in the dashboard, "" for none.
func (d *Dashboard) Route(r *http.Request) string {
	_, p := d.mux.Handler(r)
	return p
}

func (d *Dashboard) style(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Write(d.css)
}

// indexPage is the overview's data.
type indexPage struct {
	Counts     Counts
	Rows       []Row
	Sort       string
	Order      string
	Filter     string
	StaleAfter time.Duration
	Now        time.Time
	Headers    []header
}

// header is a sortable column: its link flips the order when it is the
// column sorted on.
type header struct {
	Title, Href, Mark string
}

func (d *Dashboard) index(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p := indexPage{Sort: q.Get("sort"), Order: q.Get("order"), Filter: q.Get("state"), StaleAfter: d.staleAge(), Now: d.cfg.Now()}
	if p.Sort == "" {
		p.Sort = "name"
	}
	if p.Order == "" {
		p.Order = "asc"
	}
	if !slices.Contains(sortKeys, p.Sort) || !slices.Contains(orders, p.Order) {
		d.fail(w, http.StatusBadRequest, "sort must be name, state or last, and order asc or desc")
		return
	}
	if _, ok := stateRank[p.Filter]; !ok && p.Filter != "" {
		d.fail(w, http.StatusBadRequest, "state must be trusted, untrusted, stale or never attested")
		return
	}
	rows, counts, err := d.fleet(r.Context())
	if err != nil {
		d.cfg.Log.Error("dashboard", "err", err)
		d.fail(w, http.StatusInternalServerError, "the verifier's store could not be read")
		return
	}
	if p.Filter != "" {
		rows = slices.DeleteFunc(rows, func(row Row) bool { return row.State != p.Filter })
	}
	sortRows(rows, p.Sort, p.Order)
	p.Rows, p.Counts = rows, counts
	for _, c := range [][2]string{{"name", "Host"}, {"state", "State"}, {"last", "Last report"}} {
		h := header{Title: c[1]}
		v := url.Values{"sort": {c[0]}, "order": {"asc"}}
		if c[0] == p.Sort {
			h.Mark = map[string]string{"asc": "▲", "desc": "▼"}[p.Order]
			if p.Order == "asc" {
				v.Set("order", "desc")
			}
		}
		if p.Filter != "" {
			v.Set("state", p.Filter)
		}
		h.Href = "?" + v.Encode()
		p.Headers = append(p.Headers, h)
	}
	d.render(w, "index", p)
}

// hostPage is a host's page's data.
type hostPage struct {
	Host    store.Host
	State   string
	Mode    string
	Latest  *store.Report
	Report  *report.Report
	Invalid bool
	Chart   Chart
	History []store.Report
}

func (d *Dashboard) host(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	h, err := d.cfg.Store.Host(ctx, r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		d.fail(w, http.StatusNotFound, "no such host")
		return
	}
	if err != nil {
		d.cfg.Log.Error("dashboard", "err", err)
		d.fail(w, http.StatusInternalServerError, "the verifier's store could not be read")
		return
	}
	hist, err := d.cfg.Store.Reports(ctx, store.ReportQuery{HostID: h.ID, Limit: d.cfg.History})
	if err != nil {
		d.cfg.Log.Error("dashboard", "err", err)
		d.fail(w, http.StatusInternalServerError, "the verifier's store could not be read")
		return
	}
	p := hostPage{Host: h, Mode: mode(h), Chart: chart(hist), History: hist}
	// The newest report, not h.LastReport: the two are written in one
	// transaction, and the listing is what the chart shows.
	if len(hist) > 0 {
		p.Latest = &hist[0]
		var rep report.Report
		if json.Unmarshal(hist[0].Body, &rep) == nil {
			p.Report = &rep
		} else {
			p.Invalid = true
		}
	}
	p.State = d.state(p.Latest, d.cfg.Now())
	d.render(w, "host", p)
}

// render executes a page into a buffer first, so that a template error
// becomes a 500 and not half a page.
func (d *Dashboard) render(w http.ResponseWriter, name string, data any) {
	var b bytes.Buffer
	if err := d.pages.ExecuteTemplate(&b, name, data); err != nil {
		d.cfg.Log.Error("dashboard: rendering", "page", name, "err", err)
		d.fail(w, http.StatusInternalServerError, "the page could not be rendered")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b.Bytes())
}

func (d *Dashboard) fail(w http.ResponseWriter, code int, msg string) {
	var b bytes.Buffer
	if err := d.pages.ExecuteTemplate(&b, "error", struct {
		Code    int
		Status  string
		Message string
	}{code, http.StatusText(code), msg}); err != nil {
		http.Error(w, msg, code)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	w.Write(b.Bytes())
}

func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// hostURL is a host's page; the id is one path segment, escaped.
func hostURL(id string) string { return Prefix + "hosts/" + url.PathEscape(id) }

func stateClass(state string) string { return strings.ReplaceAll(state, " ", "-") }

func pcr(p *int) string {
	if p == nil {
		return ""
	}
	return fmt.Sprint(*p)
}
