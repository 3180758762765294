package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"tep.dev/tep/server"
)

// limitFields names the fields of server.Limits for --limit NAME=VALUE and
// the config file's "limits" object (README.md, "Limits of the server").
var limitFields = map[string]func(l *server.Limits) any{
	"sessions_per_client": func(l *server.Limits) any { return &l.SessionsPerClient },
	"sessions":            func(l *server.Limits) any { return &l.Sessions },
	"objects_per_client":  func(l *server.Limits) any { return &l.ObjectsPerClient },
	"objects":             func(l *server.Limits) any { return &l.Objects },
	"bytes_per_client":    func(l *server.Limits) any { return &l.BytesPerClient },
	"bytes":               func(l *server.Limits) any { return &l.Bytes },
	"token_objects":       func(l *server.Limits) any { return &l.TokenObjects },
	"token_bytes":         func(l *server.Limits) any { return &l.TokenBytes },
	"handshake_rate":      func(l *server.Limits) any { return &l.HandshakeRate },
	"handshake_burst":     func(l *server.Limits) any { return &l.HandshakeBurst },
	"silent":              func(l *server.Limits) any { return &l.Silent },
	"connections":         func(l *server.Limits) any { return &l.Connections },
	"clients_per_port":    func(l *server.Limits) any { return &l.ClientsPerPort },
	"assembly":            func(l *server.Limits) any { return &l.Assembly },
	"assembly_wait":       func(l *server.Limits) any { return &l.AssemblyWait },
}

// limitNames lists the names limitFields knows, for messages.
func limitNames() string {
	var names []string
	for n := range limitFields {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// setLimit sets the limit name to value v (a positive number; a duration
// such as 10s for silent).
func setLimit(l *server.Limits, name, v string) error {
	field, ok := limitFields[name]
	if !ok {
		return fmt.Errorf("unknown limit %q; known: %s", name, limitNames())
	}
	var err error
	switch p := field(l).(type) {
	case *int:
		var n int
		if n, err = strconv.Atoi(v); err == nil && n <= 0 {
			err = fmt.Errorf("not positive")
		}
		*p = n
	case *int64:
		var n int64
		if n, err = strconv.ParseInt(v, 10, 64); err == nil && n <= 0 {
			err = fmt.Errorf("not positive")
		}
		*p = n
	case *float64:
		var f float64
		if f, err = strconv.ParseFloat(v, 64); err == nil && f <= 0 {
			err = fmt.Errorf("not positive")
		}
		*p = f
	case *time.Duration:
		var d time.Duration
		if d, err = time.ParseDuration(v); err == nil && d <= 0 {
			err = fmt.Errorf("not positive")
		}
		*p = d
	}
	if err != nil {
		return fmt.Errorf("limit %s=%q: %v", name, v, err)
	}
	return nil
}

// parseLimits reads NAME=VALUE settings, from the config file's "limits"
// (file) and then the --limit flags (flags), which win.
func parseLimits(file map[string]string, flags []string) (server.Limits, error) {
	var l server.Limits
	names := make([]string, 0, len(file))
	for n := range file {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := setLimit(&l, n, file[n]); err != nil {
			return l, err
		}
	}
	for _, f := range flags {
		n, v, ok := strings.Cut(f, "=")
		if !ok {
			return l, fmt.Errorf("--limit %q: want NAME=VALUE", f)
		}
		if err := setLimit(&l, n, v); err != nil {
			return l, err
		}
	}
	return l, nil
}
