package flavor_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/flavor"
	"tep.dev/tep/attest/report"
)

// rows stores signed flavors as the verifier's store does: the flavor's
// JSON and the signature.
func rows(t *testing.T, fs []flavor.Signed) []flavor.Row {
	t.Helper()
	var out []flavor.Row
	for _, s := range fs {
		b, err := json.Marshal(s.Flavor)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, flavor.Row{ID: s.Flavor.Meta.ID, Body: b, Signature: s.Signature})
	}
	return out
}

func evaluateChecked(h *flavor.Host, cs []*flavor.Checked) []string {
	g := flavor.DefaultGroup()
	return faultNames(report.New(h.ID, t0, g.EvaluateChecked(h, cs)))
}

// TestCacheChangedRowWhenWarm: a row changed after the cache has
// checked it is checked again, and is not trusted; the unchanged rows
// keep their earlier check.
func TestCacheChangedRowWhenWarm(t *testing.T) {
	h := host(t, hostSpec{})
	c := flavor.NewCache(signKey.Public())
	rs := rows(t, imported(t, h, t0))
	warm := c.Load(rs)
	if got := evaluateChecked(h, warm); got != nil {
		t.Fatalf("warm cache: faults %v, want none", got)
	}
	again := c.Load(rs)
	for i := range again {
		if again[i] != warm[i] {
			t.Errorf("row %d checked again with the same bytes", i)
		}
	}
	var platform int
	for i, r := range rs {
		if bytes.Contains(r.Body, []byte(`"flavor_part":"PLATFORM"`)) {
			platform = i
		}
	}
	cases := map[string]func(r *flavor.Row){
		"body": func(r *flavor.Row) {
			r.Body = bytes.Replace(r.Body, []byte(`"pcr_matches":true`), []byte(`"pcr_matches":false`), 1)
		},
		"signature": func(r *flavor.Row) { r.Signature = resign(t, r.Body) },
		"not JSON":  func(r *flavor.Row) { r.Body = append(slices.Clone(r.Body), '}') },
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			changed := slices.Clone(rs)
			change(&changed[platform])
			if bytes.Equal(changed[platform].Body, rs[platform].Body) && changed[platform].Signature == rs[platform].Signature {
				t.Fatal("the row did not change")
			}
			cs := c.Load(changed)
			if !errors.Is(cs[platform].Err, flavor.ErrSignature) {
				t.Errorf("changed row: Err = %v, want ErrSignature", cs[platform].Err)
			}
			for i := range cs {
				if i != platform && cs[i] != warm[i] {
					t.Errorf("unchanged row %d checked again", i)
				}
			}
			want := []string{attest.FaultFlavorMissing, attest.FaultFlavorSignatureNotTrusted}
			if got := evaluateChecked(h, cs); !slices.Equal(got, want) {
				t.Errorf("faults %v, want %v", got, want)
			}
			// Back to the stored row: trusted again.
			if got := evaluateChecked(h, c.Load(rs)); got != nil {
				t.Errorf("row restored: faults %v", got)
			}
		})
	}
}

// resign signs body with another key: a valid JWS, not the verifier's.
func resign(t *testing.T, body []byte) string {
	t.Helper()
	var f flavor.Flavor
	if err := json.Unmarshal(body, &f); err != nil {
		t.Fatal(err)
	}
	s, err := flavor.Sign(f, mustKey())
	if err != nil {
		t.Fatal(err)
	}
	return s.Signature
}

// TestCacheBound: the cache holds the rows of the last Load only.
func TestCacheBound(t *testing.T) {
	c := flavor.NewCache(signKey.Public())
	rs := rows(t, imported(t, host(t, hostSpec{}), t0))
	c.Load(rs)
	if c.Len() != len(rs) {
		t.Fatalf("Len = %d after loading %d rows", c.Len(), len(rs))
	}
	first := c.Load(rs[:1])
	if c.Len() != 1 {
		t.Errorf("Len = %d after loading 1 row, want 1", c.Len())
	}
	if again := c.Load(rs); again[0] != first[0] {
		t.Error("the row kept was checked again")
	}
}
