package e2e

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
)

var transcript = flag.String("transcript", "", "write the API requests and replies of TestEndToEnd to this file (docs/attestation.md)")

// recorder keeps each request and reply with a title, for the docs.
type recorder struct {
	mu    sync.Mutex
	title string
	out   bytes.Buffer
}

// step titles the requests that follow.
func (r *recorder) step(title string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.title = title
}

func (r *recorder) roundTrip(req *http.Request, next http.RoundTripper) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	resp, err := next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	respBody, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.title != "" {
		fmt.Fprintf(&r.out, "### %s\n\n", r.title)
		r.title = ""
	}
	auth := ""
	if a := req.Header.Get("Authorization"); a != "" {
		auth = "\nAuthorization: Bearer tepv_…"
	}
	fmt.Fprintf(&r.out, "```\n%s %s%s\n", req.Method, req.URL.RequestURI(), auth)
	if len(reqBody) > 0 {
		fmt.Fprintf(&r.out, "\n%s\n", shorten(reqBody))
	}
	fmt.Fprintf(&r.out, "```\n\n```\n%s\n", resp.Status)
	if len(respBody) > 0 {
		fmt.Fprintf(&r.out, "\n%s\n", shorten(respBody))
	}
	fmt.Fprintf(&r.out, "```\n\n")
	return resp, nil
}

// shorten prints a JSON body for people: indented, arrays of scalars
// on one line, long strings (base64 of TPM structures and logs) cut to
// their start with their length, long arrays and objects to their first
// items with their count.
func shorten(b []byte) string {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return string(b)
	}
	var out strings.Builder
	pretty(&out, v, "")
	return out.String()
}

const (
	maxItems = 3
	maxKeys  = 8
)

func pretty(w *strings.Builder, v any, indent string) {
	switch x := v.(type) {
	case string:
		if len(x) > 96 {
			x = fmt.Sprintf("%s… (%d characters)", x[:64], len(x))
		}
		b, _ := json.Marshal(x)
		w.Write(b)
	case []any:
		scalars := true
		for _, e := range x {
			switch e.(type) {
			case []any, map[string]any:
				scalars = false
			}
		}
		if len(x) > maxItems {
			x = append(x[:maxItems:maxItems], fmt.Sprintf("… %d items in all", len(x)))
		}
		if scalars {
			b, _ := json.Marshal(x)
			w.Write(b)
			return
		}
		w.WriteString("[")
		for i, e := range x {
			w.WriteString("\n" + indent + "  ")
			pretty(w, e, indent+"  ")
			if i < len(x)-1 {
				w.WriteString(",")
			}
		}
		w.WriteString("\n" + indent + "]")
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		more := 0
		if len(keys) > maxKeys {
			more, keys = len(keys), keys[:maxKeys]
		}
		w.WriteString("{")
		for i, k := range keys {
			kb, _ := json.Marshal(k)
			w.WriteString("\n" + indent + "  " + string(kb) + ": ")
			if t, ok := x[k].(string); ok && k == "token" && t != "" {
				// One-time tokens, spent by now; still not for print.
				x[k] = "tepv_…"
			}
			pretty(w, x[k], indent+"  ")
			if i < len(keys)-1 || more > 0 {
				w.WriteString(",")
			}
		}
		if more > 0 {
			fmt.Fprintf(w, "\n%s  \"…\": \"%d keys in all\"", indent, more)
		}
		w.WriteString("\n" + indent + "}")
	default:
		b, _ := json.Marshal(x)
		w.Write(b)
	}
}

// save writes the transcript where -transcript says.
func (r *recorder) save(t *testing.T) {
	if r == nil || *transcript == "" {
		return
	}
	if err := os.WriteFile(*transcript, []byte(strings.TrimSpace(r.out.String())+"\n"), 0o644); err != nil {
		t.Error(err)
	}
}
