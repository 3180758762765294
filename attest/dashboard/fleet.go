package dashboard

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"tep.dev/tep/attest/report"
	"tep.dev/tep/attest/store"
)

// Host states, from the newest stored report.
const (
	StateTrusted   = "trusted"
	StateUntrusted = "untrusted"
	StateStale     = "stale"
	StateNever     = "never attested"
)

// stateRank orders states worst first: what an operator looks at first.
var stateRank = map[string]int{StateUntrusted: 0, StateStale: 1, StateNever: 2, StateTrusted: 3}

// Row is one host in the list.
type Row struct {
	ID    string
	State string
	// LastTrusted is the newest report's verdict, also for a stale host.
	LastTrusted bool
	// Last is the newest report's time, zero for none.
	Last     time.Time
	Mode     string
	Hostname string
	Faults   int
}

// Counts are the fleet's hosts by state.
type Counts struct {
	Total, Trusted, Untrusted, Stale, Never int
}

// state is a host's state at now given its newest report (nil: none).
func (d *Dashboard) state(r *store.Report, now time.Time) string {
	switch {
	case r == nil:
		return StateNever
	case now.Sub(r.Created) > d.staleAge():
		return StateStale
	case r.Trusted:
		return StateTrusted
	}
	return StateUntrusted
}

func (d *Dashboard) staleAge() time.Duration {
	return time.Duration(d.cfg.StaleAfter) * d.cfg.Interval
}

// fleet reads every host with its newest report.
func (d *Dashboard) fleet(ctx context.Context) ([]Row, Counts, error) {
	hosts, err := d.cfg.Store.Hosts(ctx)
	if err != nil {
		return nil, Counts{}, fmt.Errorf("listing hosts: %w", err)
	}
	latest, err := d.cfg.Store.Latest(ctx)
	if err != nil {
		return nil, Counts{}, fmt.Errorf("listing reports: %w", err)
	}
	byHost := make(map[string]*store.Report, len(latest))
	for i := range latest {
		byHost[latest[i].HostID] = &latest[i]
	}
	now := d.cfg.Now()
	rows := make([]Row, 0, len(hosts))
	var c Counts
	for _, h := range hosts {
		r := byHost[h.ID]
		row := Row{ID: h.ID, State: d.state(r, now), Mode: mode(h), Hostname: h.Facts.Hostname}
		if r != nil {
			row.Last, row.LastTrusted, row.Faults = r.Created, r.Trusted, faultCount(r.Body)
		}
		rows = append(rows, row)
		c.Total++
		switch row.State {
		case StateTrusted:
			c.Trusted++
		case StateUntrusted:
			c.Untrusted++
		case StateStale:
			c.Stale++
		default:
			c.Never++
		}
	}
	return rows, c, nil
}

func mode(h store.Host) string {
	if h.PullURL != "" {
		return "pull"
	}
	return "push"
}

// faultCount is the number of faults in a report's JSON; -1 if it does
// not parse.
func faultCount(body []byte) int {
	var r report.Report
	if json.Unmarshal(body, &r) != nil {
		return -1
	}
	return len(r.Faults)
}

// Sort keys and orders of the host list's query string.
var (
	sortKeys = []string{"name", "state", "last"}
	orders   = []string{"asc", "desc"}
)

// sortRows sorts rows by key (name, state: worst first, last: oldest
// first) in order, ties by name.
func sortRows(rows []Row, key, order string) {
	slices.SortStableFunc(rows, func(a, b Row) int {
		var c int
		switch key {
		case "state":
			c = cmp.Compare(stateRank[a.State], stateRank[b.State])
		case "last":
			c = a.Last.Compare(b.Last)
		}
		if c == 0 {
			c = cmp.Compare(a.ID, b.ID)
		}
		if order == "desc" {
			return -c
		}
		return c
	})
}

// Counts returns the fleet's hosts by state now, as the overview shows
// them (for a metrics gauge).
func (d *Dashboard) Counts(ctx context.Context) (Counts, error) {
	_, c, err := d.fleet(ctx)
	return c, err
}
