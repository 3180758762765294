package store

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"tep.dev/tep/attest"
)

// Bytes are stored as base64 text and times as Unix nanoseconds (doc.go).

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// unb64 decodes each src into its dst, for a row's byte columns.
func unb64(pairs ...any) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		src, dst := pairs[i].(string), pairs[i+1].(*[]byte)
		b, err := base64.StdEncoding.DecodeString(src)
		if err != nil {
			return fmt.Errorf("store: decoding a column: %w", err)
		}
		if len(b) == 0 {
			b = nil
		}
		*dst = b
	}
	return nil
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func factsJSON(f attest.HostFacts) string {
	b, _ := json.Marshal(f) // plain strings: cannot fail
	return string(b)
}

func parseFacts(s string, f *attest.HostFacts) error {
	if err := json.Unmarshal([]byte(s), f); err != nil {
		return fmt.Errorf("store: decoding host facts: %w", err)
	}
	return nil
}
